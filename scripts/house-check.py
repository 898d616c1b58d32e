#!/usr/bin/env python3
"""The house's two mechanical rules: every public declaration in Sources/ has a `///` comment, and no line of the
package's or the example's sources is longer than 150 characters. Lists every miss; exits 1 if there is one.
Members that implement a documented protocol requirement (description, rawValue, operators, Codable, the engines'
send/grab/expire/summary, ArgumentParser's validate/run) inherit its documentation and are not listed."""
import re,sys,glob,os
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
LIMIT=150
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
        while j>=0:
            if lines[j].strip().startswith('@'): j-=1; continue
            # an attribute over several lines (a long help text): the lines up to its `@`, parentheses balanced
            k=next((k for k in range(j-1,max(-1,j-12),-1) if lines[k].strip().startswith('@')),None)
            span='\n'.join(lines[k:j+1]) if k is not None else ''
            if k is not None and span.rstrip().endswith(')') and span.count('(')==span.count(')'): j=k-1; continue
            break
        prev=lines[j].strip() if j>=0 else ''
        if prev.startswith('///') or prev.endswith('*/'): continue
        miss.append(f"{f}:{i+1}: {s[:120]}")
long=[]
for f in files+glob.glob('Examples/*/Sources/**/*.swift',recursive=True):
    for i,l in enumerate(open(f).read().split('\n')):
        if len(l)>LIMIT: long.append(f"{f}:{i+1}: {len(l)} characters")
print('\n'.join(miss+long))
if miss or long:
    sys.exit(f'{len(miss)} public declarations without a /// comment, {len(long)} lines over {LIMIT} characters')
