#!/usr/bin/env bash
# The GPU check: the tests on JAX and PyTorch on the GPU (the backends at
# once, sharing the cores), then, one at a time, the real-model step
# cost (`real_models.py`), the projector-apply cost (`projector_apply.py`)
# and the small-CNN step cost (`regularizer_cost.py`). TensorFlow is not
# checked: its GPU wheel is too large to carry to the lent machine. Every
# part has its own time limit; logs go to $OUT (or ./gpu_logs).
#
#   TESTS="tests/test_projectors.py" REAL="jax:ResNet50 torch:MobileNetV2" \
#     REAL_CASES="projection_c4 sampled_k1" APPLY="jax torch" \
#     BENCH="jax:C4" bash benchmarks/gpu_check.sh
#
# Needs keras and its pure-Python dependencies as wheels in .whl/ when the
# machine has no keras. An empty list (APPLY="") skips that part.
set -u
OUT=${OUT:-gpu_logs}
TESTS=${TESTS-tests}
BACKENDS=${BACKENDS-jax torch}
REAL=${REAL-jax:ResNet50,MobileNetV2,EfficientNetB0 torch:ResNet50,MobileNetV2,EfficientNetB0}
REAL_CASES=${REAL_CASES:-}
REAL_STEPS=${REAL_STEPS:-10}
REAL_ROUNDS=${REAL_ROUNDS:-3}
APPLY=${APPLY-jax torch}
BENCH=${BENCH-}
TEST_TIMEOUT=${TEST_TIMEOUT:-170}
REAL_TIMEOUT=${REAL_TIMEOUT:-200}
APPLY_TIMEOUT=${APPLY_TIMEOUT:-60}
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
KERAS_BACKEND=jax python3 -c "import keras, jax, torch; print('keras', keras.__version__, \
'jax', jax.__version__, jax.devices(), 'torch', torch.__version__)" \
  | tee -a "$OUT/gpu.txt"
read -ra backends <<< "$BACKENDS"
workers=$(( $(nproc) / ${#backends[@]} ))
for backend in $BACKENDS; do
  # shellcheck disable=SC2086
  KERAS_BACKEND=$backend timeout "$TEST_TIMEOUT" python3 -m pytest -q \
    -p no:cacheprovider -m "not slow and not multi_device" -n "$workers" \
    -v -rf --tb=short $TESTS > "$OUT/tests_$backend.log" 2>&1 &
done
wait
for backend in $BACKENDS; do
  echo "== tests on $backend"; grep -E "FAILED|ERROR" "$OUT/tests_$backend.log" | head -20
  tail -3 "$OUT/tests_$backend.log"
done
cases=()
# shellcheck disable=SC2206
[ -n "$REAL_CASES" ] && cases=(--cases $REAL_CASES)
for run in $REAL; do
  backend=${run%%:*} models=${run##*:}
  KERAS_BACKEND=$backend timeout "$REAL_TIMEOUT" python3 \
    benchmarks/real_models.py --models ${models//,/ } "${cases[@]}" \
    --steps "$REAL_STEPS" --rounds "$REAL_ROUNDS" 2>&1 \
    | grep -E "^#|^ratio|^first_step|Error" | tee -a "$OUT/real_$backend.txt"
done
for backend in $APPLY; do
  KERAS_BACKEND=$backend timeout "$APPLY_TIMEOUT" python3 \
    benchmarks/projector_apply.py --rounds 5 2>&1 \
    | grep -E "^#|^time|^ratio|^ops|Error" | tee "$OUT/apply_$backend.txt"
done
for case in $BENCH; do
  backend=${case%%:*} group=${case##*:}
  KERAS_BACKEND=$backend timeout "$BENCH_TIMEOUT" python3 \
    benchmarks/regularizer_cost.py --group "$group" --steps 10 \
    --rounds 5 2>&1 | grep -E "^#|^ratio" \
    | tee "$OUT/bench_${backend}_$group.txt"
done
