// Metrics: numbers for people (how often is the model right?), unlike losses, which are for SGD.
// Each is a plain named function of (preds, targets) -> scalar, so a Learner can use it as a metric
// and label its column with `metric.name`.
import { tf } from "./tf";
import { checkBinary, checkClasses } from "./checks";

/**
 * The chapter's batch_accuracy for one-output models: a logit counts as "is a 3" when its sigmoid
 * is above 0.5; the fraction of items where that matches (target == 1). Shapes [N,1] or [N].
 */
export function batchAccuracy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  checkBinary("batchAccuracy", logits, targets);
  return tf.tidy(() => {
    // Flattened so that [N,1] against [N] compares item by item instead of broadcasting to [N,N].
    const predicted = tf.greater(tf.sigmoid(logits.reshape([-1])), 0.5);
    const actual = tf.equal(targets.reshape([-1]), 1);
    return tf.mean(tf.cast(tf.equal(predicted, actual), "float32")) as tf.Scalar;
  });
}

/** Multi-class accuracy: the fraction of rows of logits [N,C] whose largest entry is the target class (int32 [N]). */
export function accuracy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  checkClasses("accuracy", logits, targets);
  return tf.tidy(() => {
    const predicted = tf.argMax(logits, -1);
    const actual = tf.cast(targets.reshape([-1]), "int32");
    return tf.mean(tf.cast(tf.equal(predicted, actual), "float32")) as tf.Scalar;
  });
}
