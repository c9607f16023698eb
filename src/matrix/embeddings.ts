/** A dense embedding matrix, row-major: row i is the vector of dense index i. */
export interface Embeddings {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array;
}
