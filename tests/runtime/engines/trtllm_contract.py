"""The parts of TensorRT-LLM 1.0.0's LLM API that the `trtllm` engine calls, as plain data.

Release: TensorRT-LLM v1.0.0, commit ae8270b (the commit the 1.0.0 documentation names in
its footer, and the `tensorrt_llm` submodule of triton-inference-server/tensorrtllm_backend
at its tag v1.0.0). Recorded by hand from the documentation built from that commit,
https://nvidia.github.io/TensorRT-LLM/1.0.0/, whose "Source code" pages render these files:

- tensorrt_llm/llmapi/llm.py: `BaseLLM.__init__`, `LLM(_TorchLLM)`, `_TrtLLM`,
  `generate_async`, `_check_arguments`, `tokenizer`, `shutdown`, `RequestOutput`
- tensorrt_llm/sampling_params.py: `SamplingParams`, `GuidedDecodingParams`, `_validate`
- tensorrt_llm/llmapi/llm_args.py: `KvCacheConfig`
- tensorrt_llm/executor/result.py: `CompletionOutput`, `GenerationResult.aresult`, `abort`
- tensorrt_llm/executor/utils.py: `RequestError(RuntimeError)`
- llm-api/reference.html: the keyword arguments `LLM(...)` documents (TorchLlmArgs)
- tensorrt_llm/_tensorrt_engine/__init__.py: `LLM` is `_TrtLLM` (the TensorRT backend)
- features/sampling.html (1.0.0): the PyTorch backend samples only with the TRT-LLM sampler
- tensorrt_llm/serve/openai_server.py, serve/chat_utils.py: trtllm-serve's refusal of n > 1

Recorded are names, kinds and defaults (facts about the interface) and, at the end, the
behaviours the engine depends on (which options a backend needs for which feature), each
with its source; no code of the release is copied. The contract test builds
`inspect.Signature` objects from this data and binds every call the engine makes, so a
misspelt or missing argument fails the test, and its stand-in LLM behaves as recorded
below, so an engine that forgets an option gets greedy samples or a failed request.
"""

from __future__ import annotations

from typing import Any

RELEASE = "1.0.0"
COMMIT = "ae8270b"
DOCS = "https://nvidia.github.io/TensorRT-LLM/1.0.0/"

REQUIRED: Any = object()  # a parameter without a default
POSITIONAL = "positional_or_keyword"
KEYWORD = "keyword_only"

# tensorrt_llm.llmapi.LLM.__init__ and tensorrt_llm._tensorrt_engine.LLM.__init__ (both
# call BaseLLM.__init__ with the same parameters), followed by **kwargs.
LLM_INIT: list[tuple[str, str, Any]] = [
    ("model", POSITIONAL, REQUIRED),
    ("tokenizer", POSITIONAL, None),
    ("tokenizer_mode", POSITIONAL, "auto"),
    ("skip_tokenizer_init", POSITIONAL, False),
    ("trust_remote_code", POSITIONAL, False),
    ("tensor_parallel_size", POSITIONAL, 1),
    ("dtype", POSITIONAL, "auto"),
    ("revision", POSITIONAL, None),
    ("tokenizer_revision", POSITIONAL, None),
]

# BaseLLM.__init__ raises ValueError("LLM got invalid argument: KEY") for any keyword that
# is not a field of the backend's LlmArgs (nor `backend` / `_mpi_session`). These are the
# keyword arguments the 1.0.0 API reference documents for LLM (TorchLlmArgs).
TORCH_LLM_KWARGS: frozenset[str] = frozenset(
    {
        "backend",
        "_mpi_session",
        "pipeline_parallel_size",
        "context_parallel_size",
        "gpus_per_node",
        "moe_cluster_parallel_size",
        "moe_tensor_parallel_size",
        "moe_expert_parallel_size",
        "enable_attention_dp",
        "cp_config",
        "load_format",
        "fail_fast_on_attention_window_too_large",
        "enable_lora",
        "lora_config",
        "kv_cache_config",
        "enable_chunked_prefill",
        "guided_decoding_backend",
        "batched_logits_processor",
        "iter_stats_max_iterations",
        "request_stats_max_iterations",
        "peft_cache_config",
        "scheduler_config",
        "cache_transceiver_config",
        "speculative_config",
        "max_batch_size",
        "max_input_len",
        "max_seq_len",
        "max_beam_width",
        "max_num_tokens",
        "gather_generation_logits",
        "num_postprocess_workers",
        "postprocess_tokenizer_dir",
        "reasoning_parser",
        "garbage_collection_gen0_threshold",
        "cuda_graph_config",
        "attention_dp_config",
        "disable_overlap_scheduler",
        "moe_config",
        "attn_backend",
        "enable_mixed_sampler",
        "enable_trtllm_sampler",
        "enable_iter_perf_stats",
        "enable_iter_req_stats",
        "print_iter_log",
        "torch_compile_config",
        "enable_autotuner",
        "enable_layerwise_nvtx_marker",
        "enable_min_latency",
        "stream_interval",
        "force_dynamic_quantization",
        "allreduce_strategy",
        "checkpoint_loader",
        "checkpoint_format",
    }
)

# The TensorRT backend (_TrtLLM) accepts the fields of TrtLlmArgs. Recorded here are only
# those whose presence 1.0.0 shows directly: _TrtLLM._build_model reads them from its args.
TRT_LLM_KWARGS: frozenset[str] = frozenset(
    {
        "backend",
        "_mpi_session",
        "kv_cache_config",
        "guided_decoding_backend",
        "max_batch_size",
        "max_num_tokens",
        "max_seq_len",
        "max_beam_width",
        "scheduler_config",
        "peft_cache_config",
        "decoding_config",
        "batched_logits_processor",
        "gather_generation_logits",
        "normalize_log_probs",
        "enable_chunked_prefill",
        "extended_runtime_perf_knob_config",
        "cache_transceiver_config",
        "num_postprocess_workers",
        "postprocess_tokenizer_dir",
        "batching_type",
        "lora_config",
        "build_config",
    }
)

# Guided decoding backends: the PyTorch backend takes both; _TrtLLM raises ValueError
# ("Unsupported guided decoding backend ...") for anything but xgrammar.
TORCH_GUIDED_BACKENDS = ("xgrammar", "llguidance")
TRT_GUIDED_BACKENDS = ("xgrammar",)

# BaseLLM.generate_async(self, ...) -> RequestOutput; all positional-or-keyword.
GENERATE_ASYNC: list[tuple[str, str, Any]] = [
    ("inputs", POSITIONAL, REQUIRED),
    ("sampling_params", POSITIONAL, None),
    ("lora_request", POSITIONAL, None),
    ("prompt_adapter_request", POSITIONAL, None),
    ("streaming", POSITIONAL, False),
    ("kv_cache_retention_config", POSITIONAL, None),
    ("disaggregated_params", POSITIONAL, None),
    ("_postproc_params", POSITIONAL, None),
    ("scheduling_params", POSITIONAL, None),
]

# @dataclass(slots=True, kw_only=True) class SamplingParams: the init fields in order
# (`_bad_word_ids`, `_stop_word_ids` and `_stream_interval` are init=False).
SAMPLING_PARAMS: list[tuple[str, str, Any]] = [
    ("end_id", KEYWORD, None),
    ("pad_id", KEYWORD, None),
    ("max_tokens", KEYWORD, 32),
    ("bad", KEYWORD, None),
    ("bad_token_ids", KEYWORD, None),
    ("stop", KEYWORD, None),
    ("stop_token_ids", KEYWORD, None),
    ("include_stop_str_in_output", KEYWORD, False),
    ("embedding_bias", KEYWORD, None),
    ("logits_processor", KEYWORD, None),
    ("apply_batched_logits_processor", KEYWORD, False),
    ("n", KEYWORD, 1),
    ("best_of", KEYWORD, None),
    ("use_beam_search", KEYWORD, False),
    ("top_k", KEYWORD, None),
    ("top_p", KEYWORD, None),
    ("top_p_min", KEYWORD, None),
    ("top_p_reset_ids", KEYWORD, None),
    ("top_p_decay", KEYWORD, None),
    ("seed", KEYWORD, None),
    ("temperature", KEYWORD, None),
    ("min_tokens", KEYWORD, None),
    ("beam_search_diversity_rate", KEYWORD, None),
    ("repetition_penalty", KEYWORD, None),
    ("presence_penalty", KEYWORD, None),
    ("frequency_penalty", KEYWORD, None),
    ("length_penalty", KEYWORD, None),
    ("early_stopping", KEYWORD, None),
    ("no_repeat_ngram_size", KEYWORD, None),
    ("min_p", KEYWORD, None),
    ("beam_width_array", KEYWORD, None),
    ("logprobs", KEYWORD, None),
    ("prompt_logprobs", KEYWORD, None),
    ("return_context_logits", KEYWORD, False),
    ("return_generation_logits", KEYWORD, False),
    ("exclude_input_from_output", KEYWORD, True),
    ("return_encoder_output", KEYWORD, False),
    ("return_perf_metrics", KEYWORD, False),
    ("additional_model_outputs", KEYWORD, None),
    ("_context_logits_auto_enabled", KEYWORD, False),
    ("_generation_logits_auto_enabled", KEYWORD, False),
    ("_return_log_probs", KEYWORD, False),
    ("lookahead_config", KEYWORD, None),
    ("guided_decoding", KEYWORD, None),
    ("ignore_eos", KEYWORD, False),
    ("detokenize", KEYWORD, True),
    ("add_special_tokens", KEYWORD, True),
    ("truncate_prompt_tokens", KEYWORD, None),
    ("skip_special_tokens", KEYWORD, True),
    ("spaces_between_special_tokens", KEYWORD, True),
]

# @dataclass(slots=True, kw_only=True) class GuidedDecodingParams; _validate(): at most
# one guide may be set ("Only one guide can be used for a request, but got N.").
GUIDED_DECODING_PARAMS: list[tuple[str, str, Any]] = [
    ("json", KEYWORD, None),
    ("regex", KEYWORD, None),
    ("grammar", KEYWORD, None),
    ("json_object", KEYWORD, False),
    ("structural_tag", KEYWORD, None),
]

# class KvCacheConfig(StrictBaseModel, PybindMirror): pydantic, unknown fields forbidden.
KV_CACHE_CONFIG: list[tuple[str, str, Any]] = [
    ("enable_block_reuse", KEYWORD, True),
    ("max_tokens", KEYWORD, None),
    ("max_attention_window", KEYWORD, None),
    ("sink_token_length", KEYWORD, None),
    ("free_gpu_memory_fraction", KEYWORD, None),
    ("host_cache_size", KEYWORD, None),
    ("onboard_blocks", KEYWORD, True),
    ("cross_kv_cache_fraction", KEYWORD, None),
    ("secondary_offload_min_priority", KEYWORD, None),
    ("event_buffer_max_size", KEYWORD, 0),
    ("enable_partial_reuse", KEYWORD, True),
    ("copy_on_partial_reuse", KEYWORD, True),
    ("use_uvm", KEYWORD, False),
    ("dtype", KEYWORD, "auto"),
]

# @dataclass(slots=True) class CompletionOutput: its fields (the public ones), and the
# values finish_reason takes once a request is done.
COMPLETION_OUTPUT_FIELDS: tuple[str, ...] = (
    "index",
    "text",
    "token_ids",
    "cumulative_logprob",
    "logprobs",
    "prompt_logprobs",
    "finish_reason",
    "stop_reason",
    "generation_logits",
    "disaggregated_params",
    "request_perf_metrics",
)
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "timeout", "cancelled")

# RequestOutput (a GenerationResult): the attributes it documents, and its methods.
REQUEST_OUTPUT_ATTRIBUTES: tuple[str, ...] = (
    "request_id",
    "prompt",
    "prompt_token_ids",
    "outputs",
    "context_logits",
    "finished",
)
REQUEST_OUTPUT_METHODS: tuple[str, ...] = ("result", "aresult", "abort", "aborted", "__await__")

# The PyTorch backend's check in BaseLLM._check_arguments (without chunked prefill), a
# ValueError raised by generate_async before the request is queued.
PROMPT_TOO_LONG = (
    "The sum of prompt length ({prompt}), query length (0) should not exceed "
    "max_num_tokens ({limit})"
)
# SamplingParams._validate: greedy decoding (no beam search, top_k None or 1, top_p None
# or 0.0) with best_of > 1 raises unless TLLM_ALLOW_N_GREEDY_DECODING is set.
GREEDY_N_ERROR = "Greedy decoding in the LLM API does not allow multiple returns."

# The tokenizer the LLM exposes (`llm.tokenizer`) renders chats with the Hugging Face
# `apply_chat_template(conversation, ..., tokenize=..., add_generation_prompt=...)`; the
# 1.0.0 guided-decoding example calls `llm.tokenizer.apply_chat_template(prompt,
# tokenize=False)`. Recorded: the keywords of transformers' signature the engine may use.
APPLY_CHAT_TEMPLATE: list[tuple[str, str, Any]] = [
    ("conversation", POSITIONAL, REQUIRED),
    ("tools", POSITIONAL, None),
    ("documents", POSITIONAL, None),
    ("chat_template", POSITIONAL, None),
    ("add_generation_prompt", POSITIONAL, False),
    ("continue_final_message", POSITIONAL, False),
    ("tokenize", POSITIONAL, True),
]

# TransformersTokenizer.encode(self, text, *args, **kwargs) in tensorrt_llm/llmapi/tokenizer.py
# forwards to the Hugging Face tokenizer's `encode` (which takes `add_special_tokens`).
TOKENIZER_ENCODE: list[tuple[str, str, Any]] = [("text", POSITIONAL, REQUIRED)]

# ------------------------------------------------------------------------- behaviour
#
# What each backend needs for the features taskseed relies on. An option listed under a
# feature must be passed to the LLM's constructor for the feature to work; the TensorRT
# backend refuses the PyTorch backend's options ("LLM got invalid argument: ...", since
# they are not in TRT_LLM_KWARGS).
#
# - sampling: temperature, top_p and seed take effect. 1.0.0's features/sampling.html:
#   "To use the feature: Enable the enable_trtllm_sampler option in the LLM class"; the
#   default sampler (TorchSampler) of the PyTorch backend decodes as if greedy and takes no
#   per-request seed (per-request seeds reached TorchSampler only in PR #17172, 2026;
#   ai-dynamo/dynamo#3162 reports temperature and seed without effect on that backend,
#   September 2025). The TensorRT backend samples in its C++ runtime.
# - n_per_call: SamplingParams(n=k) gives k sequences in one call. The PyTorch backend
#   asserts in its overlap executor loop and hangs otherwise (issue #6204, 0.20;
#   issue #6406); the 1.0 feature test runs with both options below. PR #8815 (November
#   2025) proposed refusing n > 1 there outright.
# - checks_max_seq_len: the backend refuses a prompt whose length plus max_tokens exceeds
#   max_seq_len before queueing it (BaseLLM._check_arguments checks only max_num_tokens
#   on the PyTorch backend).
BACKEND_BEHAVIOUR: dict[str, dict[str, Any]] = {
    "pytorch": {
        "sampling": {"enable_trtllm_sampler": True},
        "n_per_call": {"enable_trtllm_sampler": True, "disable_overlap_scheduler": True},
        "checks_max_seq_len": False,
        "guided_backends": TORCH_GUIDED_BACKENDS,
        "kwargs": TORCH_LLM_KWARGS,
    },
    "tensorrt": {
        "sampling": {},
        "n_per_call": {},
        "checks_max_seq_len": True,
        "guided_backends": TRT_GUIDED_BACKENDS,
        "kwargs": TRT_LLM_KWARGS,
    },
}

# Without a seed the sampler uses one fixed default seed (the maintainers' answer in
# issue #2411), so separate calls without seeds give the same sample.
DEFAULT_SEED = 0

# The PyTorch executor's assertion when n > 1 runs on the overlap scheduler (issue #6204).
N_PER_CALL_FAILURE = "assert scheduled_batch.batch_size > 0"

# trtllm-serve of 1.0.0: both chat and completion handlers call
# check_multiple_response(request.n, backend) (serve/chat_utils.py), which raises
# ValueError for n > 1 on the PyTorch backend; the handler answers every exception with
# create_error_response(str(e)), an ErrorResponse with HTTP 400 (removed by PR #8951).
SERVE_N_REFUSAL_BACKENDS = ("pytorch",)
SERVE_N_REFUSAL_STATUS = 400
SERVE_N_REFUSAL_BODY: dict[str, Any] = {
    "object": "error",
    "message": "Multiple response is not supported in PyTorch workflow",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
# trtllm-serve's --extra_llm_api_options YAML holds LLM keyword arguments: its keys must be
# fields of the backend's LlmArgs (TORCH_LLM_KWARGS for `--backend pytorch`).

# ---------------------------------------------------------------------- requirements
#
# The published requirements of tensorrt-llm 1.0.0 that concern taskseed's own. Its wheels
# are built for CPython 3.10 and 3.12 (linux x86_64 and aarch64); the install guide is
# "tested on Python 3.12". Its requirements.txt (read into the wheel's Requires-Dist) pins
# numpy<2 (added in commit 66ef1df, still in force in November 2025: issue #3734) and
# datasets==3.1.0 (pinned from 0.21.0 on, because later datasets releases broke its
# evaluate dependency), and takes openai unpinned. The other pins (torch, transformers,
# tensorrt, xgrammar, ...) name packages taskseed does not declare.
PYTHON_WHEELS: tuple[str, ...] = ("3.10", "3.12")
REQUIREMENTS: dict[str, str] = {
    "numpy": "<2",
    "datasets": "==3.1.0",
    "openai": "",
}
# Released versions that satisfy REQUIREMENTS, which taskseed's declared requirements must
# admit too (`make test-numpy1` runs the suite with the numpy one).
WITNESSES: dict[str, str] = {
    "numpy": "1.26.4",
    "datasets": "3.1.0",
    "openai": "1.101.0",
}
# Packages taskseed installs whose newer releases need numpy 2 without declaring it, with
# the first such release: under numpy<2 the extra must hold them below it. pyarrow 26
# "can't be used with Numpy 1.x" (apache/arrow#50769); datasets needs pyarrow.
NUMPY2_ONLY_FROM: dict[str, str] = {"pyarrow": "26"}
# Packages taskseed installs whose newer releases declare numpy 2: each release and its
# numpy requirement, from the published metadata ("" when it has none). The extra
# resolves only if taskseed allows a release that takes numpy 1.26.
NUMPY_OF_RELEASE: dict[str, dict[str, str]] = {
    "py3langid": {"0.2.2": "", "0.3.0": ">=2.0.0", "0.4.0": ">=2.0.0"},
}
