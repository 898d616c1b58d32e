#!/usr/bin/env python3
"""Lists every public declaration in Sources/ without a `///` comment; exits 1 if there is one.
Members that implement a documented protocol requirement (description, rawValue, operators, Codable, the engines'
send/grab/expire/summary, ArgumentParser's validate/run) inherit its documentation and are not listed."""
import re,sys,glob,os
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
files=[f for f in glob.glob('Sources/**/*.swift',recursive=True)]
miss=[]
inherit=re.compile(r'(var description\b|var rawValue\b|init\(rawValue:|init\(integerLiteral|static func [<>=+\-*]|init\(from decoder|func encode\(to encoder|nonisolated let name\b|let name = |var name: String \{ base|func (send|grab|grabReceipt|expire|summary|summaries|validate|run)\()')
for f in files:
    lines=open(f).read().split('\n')
    for i,l in enumerate(lines):
        s=l.strip()
        if not re.match(r'^(@\w+(\([^)]*\))?\s+)*(public|open)\s', s): continue
        if inherit.search(s): continue
        j=i-1
        while j>=0 and lines[j].strip().startswith('@'): j-=1
        prev=lines[j].strip() if j>=0 else ''
        if prev.startswith('///') or prev.endswith('*/'): continue
        miss.append(f"{f}:{i+1}: {s[:120]}")
print('\n'.join(miss))
if miss:
    sys.exit(f'{len(miss)} public declarations without a /// comment')
