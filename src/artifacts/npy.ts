import { readFileSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';

/**
 * NumPy's .npy format (version 1.0), so factors and id maps open with `np.load`:
 * magic "\x93NUMPY", version, a little-endian uint16 header length, a Python-literal
 * header dict padded with spaces to a multiple of 64 bytes, then the raw C-order data.
 */
export type NpyArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

const DESCR: Array<[string, new (buf: ArrayBuffer, off: number, len: number) => NpyArray, number]> = [
  ['<f4', Float32Array, 4],
  ['<f8', Float64Array, 8],
  ['<i4', Int32Array, 4],
  ['<i8', BigInt64Array, 8],
];

function descrOf(a: NpyArray): string {
  if (a instanceof Float32Array) return '<f4';
  if (a instanceof Float64Array) return '<f8';
  if (a instanceof Int32Array) return '<i4';
  return '<i8';
}

export function encodeNpy(data: NpyArray, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape ${shape.join('x')} does not match ${data.length} values`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pre = 10; // magic(6) + version(2) + header length(2)
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - pre - 1, ' ')}\n`;
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export function writeNpy(path: string, data: NpyArray, shape: number[] = [data.length]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}

export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  const buf = readFileSync(path);
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new InputError(`${path}: not a .npy file`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const kind = DESCR.find(([d]) => d === descr);
  if (!kind || fortran !== 'False' || shapeText === undefined) {
    throw new InputError(`${path}: unsupported .npy header ${header.trim()}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [, Ctor, size] = kind;
  const dataStart = start + headerLen;
  // Copy into a fresh, aligned buffer.
  const bytes = buf.subarray(dataStart, dataStart + count * size);
  if (bytes.length !== count * size) throw new InputError(`${path}: truncated .npy data`);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return { data: new Ctor(copy.buffer, 0, count), shape };
}

export function readNpyFloat32(path: string): { data: Float32Array; shape: number[] } {
  const { data, shape } = readNpy(path);
  if (!(data instanceof Float32Array)) throw new InputError(`${path}: expected float32 data`);
  return { data, shape };
}

export function readNpyInt32(path: string): Int32Array {
  const { data } = readNpy(path);
  if (!(data instanceof Int32Array)) throw new InputError(`${path}: expected int32 data`);
  return data;
}
