// TensorFlow.js (`@tensorflow/tfjs`), the namespace the library and the notebooks use as `tf`: its types,
// and at run time one frozen object holding its exports as plain properties.
//
// Why: @tensorflow/tfjs re-exports tfjs-core through getters, and a namespace import adds another, so every
// `tf.mul` was two getter calls, each a lookup by name in a large object: 50 ns a read in optimised code
// against 1 ns for a plain property. A training step reads `tf.x` a few hundred times: 2% of an MLP's epoch
// in a profile. The copy holds the very same functions and classes (no export of TensorFlow.js is
// reassigned after it loads), and the tests check it export by export.
export * from "@tensorflow/tfjs";
import * as tfjs from "@tensorflow/tfjs";

// Replaces this module's exports (the re-export above, getters) with the plain copy. Marked __esModule so
// that a namespace import of this module in compiled CommonJS takes the object as it is.
module.exports = Object.freeze(Object.defineProperty({ ...tfjs }, "__esModule", { value: true }));
