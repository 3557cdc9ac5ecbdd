import sys, torch

sys.path[:0] = ["python", "bench"]
from sweep_decode_kv_heads import decode, problem

d = int(sys.argv[1])
g = int(sys.argv[2]) if len(sys.argv) > 2 else 4
q, kc, vc, cs, t, lens = problem(d, 8 * g, 8, 64, 4096, 4096, 256)
for _ in range(6):
    decode(q, kc, vc, cs, t)
torch.cuda.synchronize()
