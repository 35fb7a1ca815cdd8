#!/usr/bin/env python3
"""visibility-pragmas.py — put every public header's declarations under
`#pragma GCC visibility push(default)`: the library builds with -fvisibility=hidden, so what the
headers in include/clgrad declare is exactly what libclgrad.so exports.  Idempotent; run it after
adding a public header (tests/check-exports.sh checks the result)."""
import pathlib
import sys

PUSH = ('#if defined(__GNUC__)\n'
        '#pragma GCC visibility push(default) /* the public API (the library builds with -fvisibility=hidden) */\n'
        '#endif\n')
POP = '#if defined(__GNUC__)\n#pragma GCC visibility pop\n#endif\n'
OPEN = '#ifdef __cplusplus\nextern "C" {\n#endif\n'
CLOSE = '#ifdef __cplusplus\n}\n#endif\n'

for path in sorted(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'include/clgrad').glob('*.h')):
    text = path.read_text()
    if PUSH in text or OPEN not in text:
        continue
    i = text.index(OPEN) + len(OPEN)
    j = text.rindex(CLOSE)
    text = text[:i] + PUSH + text[i:j] + POP + text[j:]
    path.write_text(text)
    print('updated', path)
