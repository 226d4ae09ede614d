"""The counts of docs/architecture.md and issue 16: imports from the domain up into ops/views/apps, file-level
import cycles, function-local imports, the longest functions (every import statement, function-local included).

    .venv/bin/python scripts/layers_report.py [CHECKOUT]
"""
import ast, os, sys
from pathlib import Path
import networkx as nx
root = Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()
SKIP = {'.venv', 'tests', 'benchmarks', 'migrations', 'var', 'node_modules', '.git', 'scripts'}
DOMAIN = ['network','billing','forecast','meters','dma','notify','reports','incidents','data','gis','auth']
mods = {}
for p in root.rglob('*.py'):
    rel = p.relative_to(root)
    if rel.parts[0] in SKIP: continue
    name = '.'.join(rel.with_suffix('').parts)
    if name.endswith('.__init__'): name = name[:-9]
    mods[name] = p
def resolve(name):
    while name:
        if name in mods: return name
        name = name.rpartition('.')[0]
    return None
G = nx.DiGraph(); local = []; edges = []
funcs = []
for m, p in mods.items():
    tree = ast.parse(p.read_text())
    pkg = m if p.name == '__init__.py' else m.rpartition('.')[0]
    def visit(node, depth):
        for ch in ast.iter_child_nodes(node):
            d = depth + (1 if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)) else 0)
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((ch.end_lineno - ch.lineno + 1, f'{m}.{ch.name}'))
            targets = []
            if isinstance(ch, ast.Import):
                targets = [a.name for a in ch.names]
            elif isinstance(ch, ast.ImportFrom):
                base = ch.module or ''
                if ch.level:
                    parts = pkg.split('.')
                    up = parts[:len(parts) - (ch.level - 1)] if ch.level > 1 else parts
                    base = '.'.join([x for x in up if x] + ([base] if base else []))
                targets = [f'{base}.{a.name}' if base else a.name for a in ch.names] + [base]
            for t in targets:
                r = resolve(t)
                if r and r != m:
                    G.add_edge(m, r); edges.append((m, r, depth > 0, ch.lineno))
                    if depth > 0: local.append((m, r, ch.lineno))
            visit(ch, d)
    visit(tree, 0)
def is_entry(m):
    last = m.split('.')[-1]
    return last in ('__main__','cli','api','web','run_cli','demo_month') or 'cli' in last or last.startswith('demo') or last=='serve'
up = sorted({(a, b) for a, b, _, _ in edges if a.split('.')[0] in DOMAIN and not a.endswith('__main__') and (b.split('.')[0] in ('ops','views','apps','app','app_server') or (is_entry(b) and not is_entry(a)))})
cyc = [c for c in nx.strongly_connected_components(G) if len(c) > 1]
print('modules', len(mods))
print('upward imports (domain -> ops/views/apps or entry point; a __main__ calling apps.cli aside):', len(up))
for a, b in up: print('   ', a, '->', b)
print('cycles (SCCs > 1 file):', len(cyc))
for c in cyc: print('   ', sorted(c))
print('function-local imports (project modules):', len(local))
allocal = 0
for m, p in mods.items():
    for node in ast.walk(ast.parse(p.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and sub is not node: allocal += 1
print('function-local import statements (any):', allocal)
funcs.sort(reverse=True)
print('longest functions:'); [print('   ', n, f) for n, f in funcs[:8]]
