"""Writes a Qwen3-0.6B-shaped model directory with random weights, so nano-vllm runs
without downloading anything: config.json as Qwen3-0.6B's, model.safetensors with the
parameter names of the Hugging Face checkpoint (which nano-vllm's loader maps onto its
packed qkv_proj and gate_up_proj), and a byte-level tokenizer (tokenizer.json and
tokenizer_config.json) that transformers.AutoTokenizer loads, covering every token id.

    python3 scripts/e2e/make_random_qwen3.py --out /tmp/qwen3-random [--tiny]

--tiny writes a 2-layer, 64-wide model of the same family for a quick check on a CPU.
"""

import argparse
import json
import pathlib
import time

import torch
from safetensors.torch import save_file

# Qwen3-0.6B's config.json (Hugging Face, Qwen/Qwen3-0.6B).
QWEN3_0_6B = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 40960,
    "max_window_layers": 28,
    "model_type": "qwen3",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}
TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "max_window_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}
# Qwen's special tokens sit right after its 151643 ordinary ones.
SPECIAL_TOKENS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}


def weight_shapes(config):
    """The checkpoint's tensors: name -> shape (no lm_head: tied to embed_tokens)."""
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    head_dim = config["head_dim"]
    q_size = config["num_attention_heads"] * head_dim
    kv_size = config["num_key_value_heads"] * head_dim
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], hidden)}
    for i in range(config["num_hidden_layers"]):
        layer = f"model.layers.{i}"
        shapes.update(
            {
                f"{layer}.input_layernorm.weight": (hidden,),
                f"{layer}.post_attention_layernorm.weight": (hidden,),
                f"{layer}.self_attn.q_proj.weight": (q_size, hidden),
                f"{layer}.self_attn.k_proj.weight": (kv_size, hidden),
                f"{layer}.self_attn.v_proj.weight": (kv_size, hidden),
                f"{layer}.self_attn.o_proj.weight": (hidden, q_size),
                f"{layer}.self_attn.q_norm.weight": (head_dim,),
                f"{layer}.self_attn.k_norm.weight": (head_dim,),
                f"{layer}.mlp.gate_proj.weight": (inter, hidden),
                f"{layer}.mlp.up_proj.weight": (inter, hidden),
                f"{layer}.mlp.down_proj.weight": (hidden, inter),
            }
        )
    shapes["model.norm.weight"] = (hidden,)
    return shapes


def random_weights(config, seed, device):
    """Normal(0, initializer_range) matrices and RMSNorm weights 1, bfloat16, on the
    host."""
    generator = torch.Generator(device=device).manual_seed(seed)
    std = config["initializer_range"]
    weights = {}
    for name, shape in weight_shapes(config).items():
        if len(shape) == 1:
            weights[name] = torch.ones(shape, dtype=torch.bfloat16)
            continue
        tensor = torch.empty(shape, dtype=torch.float32, device=device)
        tensor.normal_(0.0, std, generator=generator)
        weights[name] = tensor.to(torch.bfloat16).cpu()
    return weights


def write_tokenizer(out, vocab_size):
    """A byte-level BPE without merges: any text encodes (one token per byte), and every
    id below vocab_size decodes (ids past the 256 byte tokens are placeholder words)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    for token, index in SPECIAL_TOKENS.items():
        vocab[token] = index
    taken = set(vocab.values())
    for index in range(vocab_size):
        if index not in taken:
            vocab[f"w{index}"] = index
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": None,
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
                "unk_token": None,
                "add_bos_token": False,
                "clean_up_tokenization_spaces": False,
                "model_max_length": 40960,
            },
            indent=2,
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="2 layers, hidden 64")
    parser.add_argument(
        "--head-dim",
        type=int,
        help="the config's head_dim (Qwen3ForCausalLM reads it; default Qwen3's 128)",
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    args = parser.parse_args()
    start = time.time()
    config = dict(QWEN3_0_6B, **(TINY if args.tiny else {}))
    if args.head_dim:
        config["head_dim"] = args.head_dim
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 151643, "eos_token_id": [151645, 151643]})
    )
    write_tokenizer(args.out, config["vocab_size"])
    weights = random_weights(config, args.seed, args.device)
    save_file(weights, str(args.out / "model.safetensors"), metadata={"format": "pt"})
    count = sum(w.numel() for w in weights.values())
    print(
        f"make_random_qwen3: {args.out}: {count / 1e6:.0f}M parameters "
        f"in {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
