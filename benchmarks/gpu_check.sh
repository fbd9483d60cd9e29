#!/usr/bin/env bash
# The GPU check: tests on JAX and PyTorch on the GPU, then the step-cost
# benchmark there. TensorFlow is not checked: its GPU wheel is too large to
# carry to the lent machine. Logs go to $OUT (or ./gpu_logs).
#
#   TESTS="tests/test_layers.py ..." BENCH="jax:C4 torch:SO3" \
#     TEST_TIMEOUT=170 BENCH_TIMEOUT=150 bash benchmarks/gpu_check.sh
#
# Needs keras and its pure-Python dependencies as wheels in .whl/ when the
# machine has no keras.
set -u
OUT=${OUT:-gpu_logs}
TESTS=${TESTS:-tests}
BENCH=${BENCH:-jax:C4 jax:SO3 torch:C4 torch:SO3}
BACKENDS=${BACKENDS:-jax torch}
TEST_TIMEOUT=${TEST_TIMEOUT:-170}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-150}
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
for backend in $BACKENDS; do
  # shellcheck disable=SC2086
  KERAS_BACKEND=$backend timeout "$TEST_TIMEOUT" python3 -m pytest -q \
    -p no:cacheprovider -m "not slow and not multi_device" -n 8 $TESTS \
    2>&1 | tail -25 | tee "$OUT/tests_$backend.txt"
done
for case in $BENCH; do
  backend=${case%%:*} group=${case##*:}
  KERAS_BACKEND=$backend timeout "$BENCH_TIMEOUT" python3 \
    benchmarks/regularizer_cost.py --group "$group" --steps 10 \
    --rounds 5 2>&1 | grep -E "^#|^ratio" \
    | tee "$OUT/bench_${backend}_$group.txt"
done
