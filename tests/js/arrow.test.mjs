// Cross-checks the C arrow layer (src/arrow) against apache-arrow (npm,
// 21.2.0), an independent implementation of the Arrow IPC format:
//  * streams written by rerun-c are read by apache-arrow with the same schema,
//    metadata and values as the C side holds in memory;
//  * streams written by apache-arrow are read by rerun-c's reader with the
//    same content as apache-arrow sees.
// The C side is driven through tests/tools/arrow_tool (env RR_BUILD_DIR,
// default "build"), which prints batches as JSON; this file converts
// apache-arrow's Data objects to the same JSON, straight from their buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  tableFromIPC, tableToIPC, tableFromArrays, vectorFromArray, makeData, makeVector, Table, Schema, Field,
  RecordBatch, Type, Int32, Int64, Float32, Float64, Utf8, Binary, Bool, List, FixedSizeList, Struct,
  Timestamp, TimeUnit, Duration, DenseUnion, Null, Uint8,
} from 'apache-arrow';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const buildDir = resolve(root, process.env.RR_BUILD_DIR || 'build');
const tool = join(buildDir, 'tests', 'arrow_tool');

function run(args, input) {
  const r = spawnSync(tool, args, { input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return r;
}
function runOk(args, input) {
  const r = run(args, input);
  assert.equal(r.status, 0, `arrow_tool ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

import { tableJson } from './arrow_json.mjs';

// ---- tests ---------------------------------------------------------------------

const haveTool = existsSync(tool);
const samples = haveTool ? runOk(['list']).toString().trim().split('\n') : [];

test('arrow_tool is built', () => {
  assert.ok(haveTool, `build ${tool} first (cmake --build ${buildDir} --target arrow_tool)`);
  assert.ok(samples.length >= 5);
});

for (const name of samples) {
  for (const align of ['8', '64']) {
    test(`C-written "${name}" (alignment ${align}) reads identically in apache-arrow`, () => {
      const expected = JSON.parse(runOk(['dump', name]).toString());
      const bytes = runOk(['write', name, align]);
      assert.equal(bytes.length % 8, 0);
      const table = tableFromIPC(bytes);
      assert.deepStrictEqual(tableJson(table), expected);
      // and apache-arrow's message reader sees the framing we intended
      assert.equal(table.batches.length, 1);
      assert.equal(table.numRows, expected.length);
    });
  }

  test(`apache-arrow re-encoding of "${name}" reads identically in C`, () => {
    const expected = JSON.parse(runOk(['dump', name]).toString());
    const table = tableFromIPC(runOk(['write', name]));
    const jsBytes = tableToIPC(table, 'stream');
    const got = JSON.parse(runOk(['read'], Buffer.from(jsBytes)).toString());
    assert.deepStrictEqual(got, expected);
  });
}

test('spec §5 stream shape: C output is what apache-arrow re-reads, schema and metadata intact', () => {
  const table = tableFromIPC(runOk(['write', 'spec']));
  const f = table.schema.fields;
  assert.deepStrictEqual(f.map((x) => x.name), ['rerun.controls.RowId', 'frame', 'Points3D:positions']);
  assert.equal(f[0].nullable, false);
  assert.equal(f[0].metadata.get('ARROW:extension:name'), 'rerun.datatypes.TUID');
  assert.equal(f[0].metadata.get('rerun:kind'), 'control');
  assert.equal(table.schema.metadata.get('sorbet:version'), '0.1.3');
  assert.equal(String(f[2].type), 'List<FixedSizeList[3]<Float32>>');
  assert.equal(f[2].type.children[0].name, 'item');
  assert.equal(f[2].type.children[0].type.children[0].nullable, false);
});

function jsBuiltTable() {
  const n = 6;
  const base = tableFromArrays({
    i32: Int32Array.from([1, -2, 3, 2147483647, -2147483648, 0]),
    f64: Float64Array.from([0.5, -1e300, Math.PI, 0, -0, 1e-310]),
  });
  const strs = vectorFromArray(['a', null, 'héllo', '', '€', '😀'], new Utf8());
  const lists = vectorFromArray([[1, 2], [3], null, [], [4, 5, 6], [7]],
    new List(new Field('item', new Float32(), true)));
  // the Timestamp builder takes epoch milliseconds
  const ts = vectorFromArray([0, 1, null, -5, 1700000000000, 2], new Timestamp(TimeUnit.NANOSECOND));
  const bin = vectorFromArray([new Uint8Array([0, 255]), null, new Uint8Array([]), new Uint8Array([1]),
    new Uint8Array([2, 3]), new Uint8Array([9])], new Binary());
  const bools = vectorFromArray([true, false, null, true, true, false], new Bool());
  const structType = new Struct([new Field('a', new Int64(), true), new Field('b', new Utf8(), false)]);
  const structs = vectorFromArray([{ a: 1n, b: 'x' }, null, { a: null, b: 'z' }, { a: 4n, b: '' },
    { a: 5n, b: 'w' }, { a: 6n, b: 'v' }], structType);
  // dense union built from raw parts: ids [0, 5, 0, 5, 5, 0], child offsets
  const unionType = new DenseUnion([0, 5], [new Field('_null_markers', new Null(), true),
    new Field('F64', new Float64(), false)]);
  const nullChild = makeData({ type: new Null(), length: 3 });
  const f64Child = makeData({ type: new Float64(), length: 3, data: Float64Array.from([1.5, 2.5, 3.5]) });
  const unionData = makeData({
    type: unionType, length: n, typeIds: Int8Array.from([0, 5, 0, 5, 5, 0]),
    valueOffsets: Int32Array.from([0, 0, 1, 1, 2, 2]), children: [nullChild, f64Child],
  });
  const fslType = new FixedSizeList(3, new Field('item', new Float32(), false));
  const fsl = vectorFromArray([[1, 2, 3], [4, 5, 6], null, [7, 8, 9], [0, 0, 0], [1, 1, 1]], fslType);
  const u8 = vectorFromArray([1, 2, 3, 4, 5, 255], new Uint8());
  const dur = vectorFromArray([1n, 2n, 3n, 4n, 5n, 6n], new Duration(TimeUnit.NANOSECOND));
  const cols = {
    i32: base.getChild('i32'), f64: base.getChild('f64'), strs, lists, ts, bin, bools, structs,
    union: makeVector(unionData), fsl, u8, dur,
  };
  const fields = Object.entries(cols).map(([k, v]) =>
    new Field(k, v.type, v.nullCount > 0 || k === 'strs', k === 'i32' ? new Map([['unit', 'm/s']]) : undefined));
  const schema = new Schema(fields, new Map([['rerun:entity_path', '/js'], ['note', 'built in JS']]));
  const structData = makeData({
    type: new Struct(fields), length: n, nullCount: 0,
    children: Object.values(cols).map((v) => v.data[0]),
  });
  return new Table(schema, [new RecordBatch(schema, structData)]);
}

test('a table built by apache-arrow reads identically in C', () => {
  const table = jsBuiltTable();
  const bytes = tableToIPC(table, 'stream');
  const got = JSON.parse(runOk(['read'], Buffer.from(bytes)).toString());
  const expected = tableJson(tableFromIPC(bytes));
  assert.deepStrictEqual(got, expected);
  assert.equal(got.fields.find((f) => f.name === 'union').format, '+ud:0,5');
  assert.deepStrictEqual(got.columns[0], [1, -2, 3, 2147483647, -2147483648, 0]);
  assert.deepStrictEqual(got.columns[2], ['a', null, 'héllo', '', '€', '😀']);
  assert.equal(got.fields[0].metadata.unit, 'm/s');
  assert.equal(got.metadata['rerun:entity_path'], '/js');
});

test('C rejects damaged apache-arrow output cleanly', () => {
  const bytes = Buffer.from(tableToIPC(jsBuiltTable(), 'stream'));
  for (let n = 0; n < bytes.length; n += 7) {
    const r = run(['read'], bytes.subarray(0, n));
    assert.notEqual(r.signal, 'SIGSEGV');
    assert.ok(r.status === 0 || r.status === 1, `truncation at ${n}: status ${r.status} ${r.signal}`);
    if (r.status === 1) assert.match(r.stderr.toString(), /arrow ipc/);
  }
});
