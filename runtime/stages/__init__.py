"""The pipeline's stages, one module each, in the order the code runs them:

seeds -> normalize -> generate -> filter -> decontaminate -> verify (-> judge, where a
spec turns it on) -> enrich (then filter and decontaminate again) over each slice of a
unit's seeds (`unit.py`), then dedup -> write over what every unit committed
(`finalize.py`). `base.py` holds what they share: the funnel that counts what each
stage keeps and turns every drop into a reject with its reason.
"""
