#!/usr/bin/env python3
"""Size numbers of the C++ code (issue 16's targets): lines per file and per function in
passes/, runtime/ and autotune/, and the kernel parameters bound by a literal position.

    scripts/code_stats.py [--top N] [--max-function L] [--max-file L] [DIR ...]

Prints the files over --max-file lines (500) and the functions over --max-function
lines (150), then the N longest files and functions (10), then the count of `arg(N)` and
`getArgument(N)` literals. Exit status 1 when a file or a function is over its limit.

A function is the body of a brace that follows a parameter list `)` at namespace or
class scope (lambdas and local classes count towards the function that holds them); its
length is its lines from the one holding the name to the closing brace.
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = (".cpp", ".h")
SCOPE = re.compile(r'\b(namespace|class|struct|union|enum)\b|\bextern\s+"\s*"')
# A parameter list's `)`, then qualifiers or a trailing return type.
FUNCTION_HEAD = re.compile(
    r"\)\s*((const|override|final|noexcept|volatile|mutable|&&?)\s*)*(->\s*[^;=]+)?$"
)
LITERAL_ARG = re.compile(r"\b(arg|getArgument)\((\d+)\)")


def strip(text):
    """The text with comments, string and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, lines) of each function body defined in `path`."""
    text = strip(path.read_text(errors="replace"))
    found, stack, head_start = [], [], 0
    for i, c in enumerate(text):
        if c == "}" and stack:
            kind, start, name = stack.pop()
            if kind == "function":
                first = text.count("\n", 0, start) + 1
                found.append((name, first, text.count("\n", 0, i) + 2 - first))
        if c in ";}":
            head_start = i + 1
        elif c == "{":
            head = text[head_start:i]
            flat = " ".join(head.split())
            kind, name, start = "block", "", i
            if all(k == "scope" for k, _, _ in stack):
                if SCOPE.search(flat) and "(" not in flat:
                    kind = "scope"
                elif FUNCTION_HEAD.search(flat) and not flat.endswith("="):
                    kind = "function"
                    m = re.search(r"(operator\s*[^\s(]+|[~\w:]+)\s*\(", head)
                    name = m.group(1) if m else "?"
                    start = head_start + len(head) - len(head.lstrip())
            stack.append((kind, start, name))
            head_start = i + 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="*", default=["passes", "runtime", "autotune"])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--max-function", type=int, default=150)
    parser.add_argument("--max-file", type=int, default=500)
    args = parser.parse_args()
    files, funcs, literals = [], [], 0
    for d in args.dirs:
        for path in sorted((ROOT / d).rglob("*")):
            if path.suffix not in SOURCES or not path.is_file():
                continue
            rel = path.relative_to(ROOT)
            text = path.read_text(errors="replace")
            files.append((text.count("\n"), str(rel)))
            funcs += [(n, f"{rel}:{line}", name) for name, line, n in functions(path)]
            literals += len(LITERAL_ARG.findall(strip(text)))
    files.sort(reverse=True)
    funcs.sort(reverse=True)
    over_files = [f for f in files if f[0] > args.max_file]
    over_funcs = [f for f in funcs if f[0] > args.max_function]
    print(
        f"{len(files)} files, {sum(n for n, _ in files)} lines in {', '.join(args.dirs)}"
    )
    print(f"files over {args.max_file} lines: {len(over_files)}")
    for n, rel in over_files:
        print(f"  {n:5d} {rel}")
    print(f"functions over {args.max_function} lines: {len(over_funcs)}")
    for n, where, name in over_funcs:
        print(f"  {n:5d} {where} {name}")
    print(f"longest files:")
    for n, rel in files[: args.top]:
        print(f"  {n:5d} {rel}")
    print(f"longest functions ({len(funcs)} in all):")
    for n, where, name in funcs[: args.top]:
        print(f"  {n:5d} {where} {name}")
    print(f"arg(N) / getArgument(N) literals: {literals}")
    return 1 if over_files or over_funcs else 0


if __name__ == "__main__":
    sys.exit(main())
