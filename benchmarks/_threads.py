"""Pin BLAS/OpenMP to one thread. Import this before numpy in every benchmark.

Oversubscription on these 2-core machines made small matrix products 1000x slower.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
