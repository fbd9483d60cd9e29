#!/usr/bin/env bash
# The GPU check: the test suite on JAX and PyTorch on the GPU, then the
# step-cost benchmark there. TensorFlow is not checked: its GPU wheel is
# too large to carry to the lent machine. Logs go to $OUT (or ./gpu_logs).
#
# Needs keras and its pure-Python dependencies as wheels in .whl/ when the
# machine has no keras (see the device notes in the contributing docs).
set -u
OUT=${OUT:-gpu_logs}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
for backend in jax torch; do
  KERAS_BACKEND=$backend timeout 170 python3 -c \
    "import keras; from keras import ops; print(keras.__version__, ops.convert_to_tensor([1.0]).device if '$backend' == 'torch' else __import__('jax').devices())" \
    2>&1 | tee "$OUT/device_$backend.txt"
  KERAS_BACKEND=$backend timeout 170 python3 -m pytest -q -p no:cacheprovider \
    -m "not slow and not multi_device" -n 8 tests 2>&1 | tail -25 \
    | tee "$OUT/tests_$backend.txt"
done
for backend in jax torch; do
  for group in C4 SO3; do
    KERAS_BACKEND=$backend timeout 75 python3 benchmarks/regularizer_cost.py \
      --group $group --steps 10 --rounds 5 2>&1 | grep -v Warning \
      | tee "$OUT/bench_${backend}_$group.txt"
  done
done
