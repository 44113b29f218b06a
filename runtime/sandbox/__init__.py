"""The code check's sandbox: confinement with the kernel's namespaces, and the two
sides of a check (the solution's process and the judge) with what crosses between them.

`launcher.py` confines (see its docstring); `serve.py` runs the solution and answers
calls; `judge.py` runs the tests and decides; `wire.py` is the plain-data protocol
between them; `linux.py` holds the system calls; `spawn.py` is the parent's side.
The modules the sandbox loads (all but `spawn.py`) use the standard library only and
import each other relatively: the launcher loads them as a package of their own, outside
taskseed and its virtual environment. `docs/sandbox.md` describes the whole.
"""
