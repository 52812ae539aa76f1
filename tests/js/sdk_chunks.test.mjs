// Every chunk the C SDK writes, read by apache-arrow (an independent Arrow
// implementation): same schema, metadata and values as our own reader sees,
// and the Sorbet envelope Rerun requires. Runs every example with --save,
// extracts each ArrowMsg payload with tests/tools/rrd_tool, and compares
// apache-arrow's view with tests/tools/arrow_tool's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableFromIPC } from 'apache-arrow';
import { tableJson } from './arrow_json.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const build = resolve(root, process.env.RR_BUILD_DIR || 'build');
const examples = ['points3d', 'plots', 'dna', 'images', 'text_log', 'mesh', 'all_archetypes'];

function run(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, env: { ...process.env, RERUN_ANALYTICS: 'off' } });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

for (const ex of examples) {
  test(`${ex}: every chunk reads the same in apache-arrow as in rerun-c`, () => {
    const bin = join(build, 'examples', ex);
    assert.ok(existsSync(bin), `build ${bin} first`);
    const dir = mkdtempSync(join(tmpdir(), `rr-js-${ex}-`));
    try {
      const rrd = join(dir, 'out.rrd');
      run(bin, ['--save', rrd]);
      const n = Number(run(join(build, 'tests', 'rrd_tool'), ['ipc', rrd, dir]).toString().trim());
      assert.ok(n >= 2, `expected chunks in ${ex}, got ${n}`);
      const files = readdirSync(dir).filter((f) => f.endsWith('.arrows')).sort();
      assert.equal(files.length, n);
      for (const f of files) {
        const bytes = readFileSync(join(dir, f));
        const ours = JSON.parse(run(join(build, 'tests', 'arrow_tool'), ['read'], bytes).toString());
        const table = tableFromIPC(bytes);
        const theirs = tableJson(table);
        assert.deepStrictEqual(theirs, ours, `${ex}/${f}: apache-arrow and rerun-c disagree`);
        // the Sorbet envelope: RowId first, then index columns, then data
        assert.equal(theirs.metadata['sorbet:version'], '0.1.3');
        assert.match(theirs.metadata['rerun:id'], /^chunk_[0-9A-F]{16}[0-9a-f]{16}$/);
        assert.match(theirs.metadata['rerun:entity_path'], /^\//);
        assert.equal(theirs.fields[0].name, 'rerun.controls.RowId');
        assert.equal(theirs.fields[0].format, 'w:16');
        const kinds = theirs.fields.map((x) => x.metadata['rerun:kind']);
        assert.equal(kinds[0], 'control');
        const firstData = kinds.indexOf('data');
        assert.ok(firstData > 0, 'a data column');
        assert.ok(kinds.slice(1, firstData).every((k) => k === 'index'));
        assert.ok(kinds.slice(firstData).every((k) => k === 'data'));
        for (const fld of theirs.fields.slice(firstData)) {
          assert.equal(fld.format, '+l', `${fld.name} is a List`);
          assert.equal(fld.children[0].name, 'item');
          assert.equal(fld.children[0].nullable, true);
          assert.equal(fld.metadata['rerun:component'], fld.name);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
