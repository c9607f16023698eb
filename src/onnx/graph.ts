import { writeFileAtomic } from '../util/fs.js';
import {
  ATTR_FLOAT,
  ATTR_INT,
  ATTR_INTS,
  ATTR_STRING,
  encodeModel,
  ONNX_FLOAT,
  ONNX_INT64,
  type AttributeMessage,
  type DimMessage,
  type NodeMessage,
  type OnnxElemType,
  type TensorMessage,
  type ValueInfoMessage,
} from './proto.js';

/**
 * Builds an ONNX inference graph node by node: named graph inputs/outputs with symbolic
 * (dynamic) dimensions, weights as initializers, and operators of the default domain.
 * Versions: IR 8 with opset 17, the newest pair Debian's onnx 1.12 checker accepts and
 * well inside what onnxruntime 1.x runs.
 */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

/** A dimension: a fixed size or the name of a dynamic axis (e.g. "batch"). */
export type Dim = number | string;
export type AttributeValue = number | number[] | string | { float: number };

export class OnnxGraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** Declares a graph input; returns its name. */
  input(name: string, type: OnnxElemType, dims: Dim[], doc?: string): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims, doc));
    return name;
  }

  /** Declares `value` (a node output) as a graph output. */
  output(value: string, type: OnnxElemType, dims: Dim[], doc?: string): void {
    this.outputs.push(valueInfo(value, type, dims, doc));
  }

  /** A float32 constant tensor (weights); returns its name. */
  floats(name: string, data: Float32Array, dims: number[]): string {
    return this.initializer(name, ONNX_FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dims, data.length);
  }

  /** An int64 constant tensor (indices, axes); returns its name. */
  int64s(name: string, data: number[], dims: number[] = [data.length]): string {
    const values = BigInt64Array.from(data, (v) => BigInt(v));
    return this.initializer(name, ONNX_INT64, new Uint8Array(values.buffer), dims, data.length);
  }

  /**
   * Adds one operator; returns the name of its (first) output. `outputName` names the value,
   * which graph outputs need; otherwise a unique name is made from the operator type.
   */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const out = outputName ?? this.fresh(opType);
    if (outputName !== undefined) this.claim(outputName);
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      op_type: opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return out;
  }

  /** The serialized ModelProto. */
  encode(opts: { docString: string; producerVersion: string; metadata: Record<string, string> }): Uint8Array {
    return encodeModel({
      ir_version: ONNX_IR_VERSION,
      producer_name: 'recsys',
      producer_version: opts.producerVersion,
      doc_string: opts.docString,
      opset_import: [{ domain: '', version: ONNX_OPSET }],
      metadata_props: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  /** Writes the model atomically (temporary name, then rename). */
  write(path: string, opts: Parameters<OnnxGraphBuilder['encode']>[0]): void {
    writeFileAtomic(path, this.encode(opts));
  }

  private initializer(name: string, type: OnnxElemType, bytes: Uint8Array, dims: number[], count: number): string {
    if (dims.reduce((a, b) => a * b, 1) !== count) throw new Error(`onnx: initializer ${name} has ${count} values, not ${dims.join('x')}`);
    this.claim(name);
    // Copy: the caller's array may be a view into a larger buffer that changes later.
    this.initializers.push({ name, dims, data_type: type, raw_data: bytes.slice() });
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`onnx: value name ${name} used twice`);
    this.names.add(name);
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix.toLowerCase()}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }
}

function valueInfo(name: string, type: OnnxElemType, dims: Dim[], doc?: string): ValueInfoMessage {
  const dim: DimMessage[] = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, ...(doc ? { doc_string: doc } : {}), type: { tensor_type: { elem_type: type, shape: { dim } } } };
}

function attribute(name: string, value: AttributeValue): AttributeMessage {
  if (typeof value === 'number') return { name, type: ATTR_INT, i: value };
  if (typeof value === 'string') return { name, type: ATTR_STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: ATTR_INTS, ints: value };
  return { name, type: ATTR_FLOAT, f: value.float };
}
