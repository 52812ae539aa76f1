// apache-arrow -> the JSON that tests/tools/arrow_tool prints for a batch,
// read straight from apache-arrow's Data buffers. Shared by the JS tests.
import assert from 'node:assert/strict';
import { Type } from 'apache-arrow';

// ---- apache-arrow -> the JSON of arrow_tool -----------------------------------

export const UNITS = 'smun';
export function formatOf(t) {
  switch (t.typeId) {
    case Type.Null: return 'n';
    case Type.Int: {
      const f = { 8: 'c', 16: 's', 32: 'i', 64: 'l' }[t.bitWidth];
      return t.isSigned ? f : f.toUpperCase();
    }
    case Type.Float: return 'efg'[t.precision];
    case Type.Bool: return 'b';
    case Type.Utf8: return 'u';
    case Type.Binary: return 'z';
    case Type.FixedSizeBinary: return `w:${t.byteWidth}`;
    case Type.Duration: return `tD${UNITS[t.unit]}`;
    case Type.Timestamp: return `ts${UNITS[t.unit]}:${t.timezone ?? ''}`;
    case Type.Date: return t.unit === 0 ? 'tdD' : 'tdm';
    case Type.Time: return `tt${UNITS[t.unit]}`;
    case Type.List: return '+l';
    case Type.FixedSizeList: return `+w:${t.listSize}`;
    case Type.Struct: return '+s';
    case Type.Union:
      assert.equal(t.mode, 1, 'only dense unions are expected');
      return `+ud:${Array.from(t.typeIds).join(',')}`;
    default: throw new Error(`unexpected type ${t}`);
  }
}

const mapToObj = (m) => Object.fromEntries(m ? [...m.entries()] : []);

export function fieldJson(f) {
  return {
    name: f.name,
    format: formatOf(f.type),
    nullable: f.nullable,
    metadata: mapToObj(f.metadata),
    children: (f.type.children || []).map(fieldJson),
  };
}

const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isValid(d, p) {
  if (d.type.typeId === Type.Null) return false;
  if (d.type.typeId === Type.Union) return true;
  if (!d.nullBitmap || d.nullBitmap.length === 0 || d.nullCount === 0) return true;
  return ((d.nullBitmap[p >> 3] >> (p & 7)) & 1) === 1;
}

export function valueJson(d, i) {
  const p = d.offset + i;
  if (!isValid(d, p)) return null;
  const t = d.type;
  switch (t.typeId) {
    case Type.Int: return t.bitWidth === 64 ? String(d.values[p]) : Number(d.values[p]);
    case Type.Float: return d.values[p]; // Float16 is a Uint16Array: raw bits, like the C side
    case Type.Bool: return ((d.values[p >> 3] >> (p & 7)) & 1) === 1;
    case Type.Utf8: return utf8.decode(d.values.subarray(d.valueOffsets[p], d.valueOffsets[p + 1]));
    case Type.Binary: return hex(d.values.subarray(d.valueOffsets[p], d.valueOffsets[p + 1]));
    case Type.FixedSizeBinary: return hex(d.values.subarray(p * t.byteWidth, (p + 1) * t.byteWidth));
    case Type.Duration: case Type.Timestamp: return String(d.values[p]);
    case Type.Date: case Type.Time:
      return d.values instanceof BigInt64Array ? String(d.values[p]) : Number(d.values[p]);
    case Type.List: {
      const out = [];
      for (let k = d.valueOffsets[p]; k < d.valueOffsets[p + 1]; k++) out.push(valueJson(d.children[0], k));
      return out;
    }
    case Type.FixedSizeList: {
      const out = [];
      for (let k = p * t.listSize; k < (p + 1) * t.listSize; k++) out.push(valueJson(d.children[0], k));
      return out;
    }
    case Type.Struct: return d.children.map((c) => valueJson(c, p));
    case Type.Union: {
      const id = d.typeIds[p];
      const c = t.typeIdToChildIndex[id];
      return { type: id, value: valueJson(d.children[c], d.valueOffsets[p]) };
    }
    default: throw new Error(`unexpected type ${t}`);
  }
}

export function tableJson(table) {
  assert.ok(table.batches.length <= 1, 'one record batch expected');
  const fields = table.schema.fields;
  const batch = table.batches[0];
  return {
    metadata: mapToObj(table.schema.metadata),
    fields: fields.map(fieldJson),
    length: table.numRows,
    columns: fields.map((_, c) => {
      if (!batch) return [];
      const d = batch.data.children[c];
      const col = [];
      for (let i = 0; i < d.length; i++) col.push(valueJson(d, i));
      return col;
    }),
  };
}

