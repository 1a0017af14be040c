"""A benign corpus shaped like real model repositories; the scanner must stay quiet on it.

The chat templates below are written here from the public prompt formats of each
model family (their special tokens and turn layout), not copied from any model
repository; they use the same Jinja constructs the published ones do
(``namespace`` state, role checks, ``raise_exception``, ``'</think>' in content``).
Pickles are assembled opcode by opcode as the real picklers write them; nothing
is ever loaded.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

from tests.supplychain import corpus

CHATML = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}"
    "{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

GEMMA = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

QWEN = (
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}"
    "{%- set index = (messages|length - 1) - loop.index0 %}"
    "{%- if ns.multi_step_tool and message.role == 'user' and message.content is string"
    " and not (message.content.startswith('<tool_response>')"
    " and message.content.endswith('</tool_response>')) %}"
    "{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}"
    "{%- endif %}{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message.content is string %}{%- set content = message.content %}"
    "{%- else %}{%- set content = '' %}{%- endif %}"
    "{%- if message.role == 'user' or message.role == 'system' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- if '</think>' in content %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content }}"
    "{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + tool_call.function.name + '\"}\\n</tool_call>' }}"
    "{%- endfor %}{%- endif %}{{- '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

PHI3 = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' and message['content'] %}"
    "{{ '<|system|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\\n' + message['content'] + '<|end|>\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)

DEEPSEEK = (
    "{% set ns = namespace(is_first=false, system='') %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set ns.system = message['content'] %}{% endif %}{% endfor %}"
    "{{ bos_token }}{{ ns.system }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<\uff5cUser\uff5c>' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<\uff5cAssistant\uff5c>' + content + '<\uff5cend\u2581of\u2581sentence\uff5c>' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<\uff5cAssistant\uff5c><think>\\n' }}{% endif %}"
)

MISTRAL = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}"
    "{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}"
    "{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('After the optional system message, roles must alternate') }}"
    "{%- endif %}"
    "{%- if message['role'] == 'user' %}"
    "{%- if loop.first and system_message is defined %}"
    "{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"
    "{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}"
    "{%- endif %}{%- endfor %}"
)

TEMPLATES = {
    "chatml": CHATML,
    "llama3": LLAMA3,
    "gemma": GEMMA,
    "qwen": QWEN,
    "phi3": PHI3,
    "deepseek": DEEPSEEK,
    "mistral": MISTRAL,
}


def training_state_pickle() -> bytes:
    """Protocol 2 (as ``torch.save`` writes) of sets, frozensets, slices, complex, bytearray.

    Assembled as Python 3's pickler writes these at protocol 2: under the Python 2
    module name ``__builtin__``, each with its argument tuple and ``REDUCE``.
    """

    def floats(*values: float) -> bytes:
        return b"".join(b"G" + struct.pack(">d", v) for v in values)

    ops = corpus.Ops(2).empty_dict().mark()
    ops.binunicode("epoch").int1(3)
    ops.binunicode("tags").glob("__builtin__", "set").raw(b"]").mark()
    ops.binunicode("sft").binunicode("dpo").raw(b"e").tuple1().reduce()
    ops.binunicode("frozen_layers").glob("__builtin__", "frozenset").raw(b"]").mark()
    ops.int1(0).int1(1).raw(b"e").tuple1().reduce()
    ops.binunicode("window").glob("__builtin__", "slice").int1(0).int1(128).int1(2)
    ops.raw(b"\x87").reduce()
    ops.binunicode("phase").glob("__builtin__", "complex").raw(floats(1.0, -0.5))
    ops.tuple2().reduce()
    ops.binunicode("seed_bytes").glob("__builtin__", "bytearray")
    ops.binunicode("\x01\x02").binunicode("latin-1").tuple2().reduce()
    ops.binunicode("lr").raw(b"]").mark().raw(floats(1e-4, 5e-5)).raw(b"e")
    return ops.setitems().stop()


def _npy(header: dict[str, object], payload: bytes) -> bytes:
    text = repr(header).encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def write_corpus(root: Path) -> Path:
    """A model directory: checkpoints, NumPy and safetensors files, configs, templates."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: example/base\nlanguage: [en]\n---\n"
        "# Example model\n\nUse the chat template shipped in the tokenizer config.\n",
        encoding="utf-8",
    )
    (root / "config.json").write_text(
        json.dumps({"model_type": "llama", "hidden_size": 64, "license": "apache-2.0"}),
        encoding="utf-8",
    )
    (root / "generation_config.json").write_text(json.dumps({"do_sample": True}), "utf-8")
    for name, template in TEMPLATES.items():
        sub = root / "templates" / name
        sub.mkdir(parents=True)
        (sub / "tokenizer_config.json").write_text(
            json.dumps({"chat_template": template, "bos_token": "<s>"}), encoding="utf-8"
        )
        (sub / "chat_template.jinja").write_text(template, encoding="utf-8")
    corpus.torch_zip(root / "pytorch_model.bin", corpus.state_dict_pickle())
    (root / "legacy.pt").write_bytes(corpus.legacy_torch())
    (root / "training_state.pkl").write_bytes(training_state_pickle())
    corpus.torch_zip(root / "optimizer.pt", training_state_pickle())
    (root / "model.safetensors").write_bytes(
        corpus.safetensors(
            {
                "embed.weight": ("BF16", [4, 2], (0, 16)),
                "norm.weight": ("F32", [2], (16, 24)),
                "empty": ("F16", [0], (24, 24)),
            },
            b"\x00" * 24,
            metadata={"format": "pt"},
        )
    )
    (root / "arrays.npy").write_bytes(corpus.float_npy(8))
    (root / "fortran.npy").write_bytes(
        _npy({"descr": ">i8", "fortran_order": True, "shape": (2, 2)}, b"\x00" * 32)
    )
    (root / "scalar.npy").write_bytes(
        _npy({"descr": "<f8", "fortran_order": False, "shape": ()}, b"\x00" * 8)
    )
    (root / "records.npy").write_bytes(
        _npy(
            {"descr": [("a", "<f4"), ("b", "<i8")], "fortran_order": False, "shape": (2,)},
            b"\x00" * 24,
        )
    )
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.npy", corpus.float_npy(4))
        zf.writestr("y.npy", corpus.float_npy(16))
    (root / "arrays.npz").write_bytes(npz.getvalue())
    (root / "model.gguf").write_bytes(corpus.gguf_with_template(CHATML, license="apache-2.0"))
    return root
