// Seal verification on the auditor's own machine: loads the verifier
// compiled to WebAssembly (verifier-wasm/) and checks a seal against a
// document read slice by slice. Nothing leaves the machine. Works in a
// browser (a File's slices) and in Node (a file's chunks) alike.

const encoder = new TextEncoder();

/** Loads the verifier from the bytes of minutier_verifier_wasm.wasm. */
export async function loadVerifier(wasmBytes) {
  const { instance } = await WebAssembly.instantiate(wasmBytes, {});
  return new Verifier(instance.exports);
}

export class Verifier {
  constructor(exports) {
    this.x = exports;
  }

  // Copies bytes into a fresh buffer of the module; the caller frees it.
  put(bytes) {
    const ptr = this.x.buffer_alloc(bytes.length);
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  /**
   * Checks `seal` (the .tlog-proof text) under `keys` (the verifier key,
   * or the key history one per line) against a document given as an
   * iterable or async iterable of Uint8Array slices. Returns the report:
   * { ok, checks: [{ check, result: "pass"|"fail"|"not-checked", detail }],
   *   record?: { index, kind, archive_id, time, actor, content_sha256, size, ... } }.
   */
  async verify(slices, seal, keys) {
    const doc = this.x.document_new();
    for await (const slice of slices) {
      const ptr = this.put(slice);
      this.x.document_update(doc, ptr, slice.length);
      this.x.buffer_free(ptr, slice.length);
    }
    const sealBytes = encoder.encode(seal);
    const keyBytes = encoder.encode(keys);
    const sealPtr = this.put(sealBytes);
    const keyPtr = this.put(keyBytes);
    const packed = this.x.verify_seal(doc, sealPtr, sealBytes.length, keyPtr, keyBytes.length);
    this.x.buffer_free(sealPtr, sealBytes.length);
    this.x.buffer_free(keyPtr, keyBytes.length);
    const ptr = Number(packed >> 32n);
    const len = Number(packed & 0xffffffffn);
    const text = new TextDecoder().decode(new Uint8Array(this.x.memory.buffer, ptr, len));
    this.x.buffer_free(ptr, len);
    return JSON.parse(text);
  }
}

/** A browser File's slices, read one after the other (1 MiB each). */
export async function* fileSlices(file, size = 1 << 20) {
  for (let at = 0; at < file.size; at += size) {
    yield new Uint8Array(await file.slice(at, at + size).arrayBuffer());
  }
}
