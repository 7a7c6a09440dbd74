/* Inkling's engine: the float32 matrix products of an MLP's training step, in WebAssembly SIMD.
 *
 * Pyodide's numpy has no BLAS, and the products are over 95% of a step there; these few
 * functions replace them. build.py compiles this file twice into Emscripten-style side modules
 * that Pyodide's ctypes loads: once with plain SIMD128, once with relaxed SIMD (a fused
 * multiply-add where the machine has one). inkling/network/engine/kernel.py is the Python side.
 *
 * Conventions: matrices are float32 in row-major memory with strides counted in elements, so a
 * numpy view (a transpose, a slice) is passed as it is, without a copy. The caller (kernel.py)
 * checks shapes and strides; nothing here allocates or calls out.
 */
#include <wasm_simd128.h>

#define EXPORT __attribute__((visibility("default")))

#ifdef INKLING_RELAXED
/* acc + a * b, fused where the hardware can: results may differ from numpy's in the last bit. */
#define MADD(a, b, acc) wasm_f32x4_relaxed_madd((a), (b), (acc))
#else
#define MADD(a, b, acc) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (acc))
#endif

/* Returns 1 for the relaxed build, 0 for plain SIMD128: the loader checks it got what it asked for. */
EXPORT int ink_relaxed(void) {
#ifdef INKLING_RELAXED
    return 1;
#else
    return 0;
#endif
}

/* ---- dense: C (+)= A @ B, with B's rows contiguous ------------------------------------------
 * A is m x k with element (i, p) at a[i*rsa + p*csa]: any strides, because each element of A is
 * only broadcast (so A may be a transposed view, which makes this also the A.T @ B product).
 * B is k x n with row p at b + p*ldb; C is m x n with row i at c + i*ldc.
 * Blocking: a panel of 8 columns of B (k x 8, ~25 KB for k = 784) stays in L1 while every block
 * of 4 rows of A runs over it; 8 accumulators + 2 loads + 1 broadcast fit the 16 registers V8
 * has for SIMD on x86-64 without spilling.
 */

static inline void block4x8(int k, const float *a, int rsa, int csa, const float *b, int ldb,
                            float *c, int ldc, int accumulate) {
    v128_t c00, c01, c10, c11, c20, c21, c30, c31;
    if (accumulate) {
        c00 = wasm_v128_load(c);            c01 = wasm_v128_load(c + 4);
        c10 = wasm_v128_load(c + ldc);      c11 = wasm_v128_load(c + ldc + 4);
        c20 = wasm_v128_load(c + 2 * ldc);  c21 = wasm_v128_load(c + 2 * ldc + 4);
        c30 = wasm_v128_load(c + 3 * ldc);  c31 = wasm_v128_load(c + 3 * ldc + 4);
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = wasm_f32x4_splat(0.0f);
    }
    const float *a0 = a, *a1 = a + rsa, *a2 = a + 2 * rsa, *a3 = a + 3 * rsa;
    for (int p = 0; p < k; p++) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        v128_t x;
        x = wasm_f32x4_splat(*a0); c00 = MADD(x, b0, c00); c01 = MADD(x, b1, c01);
        x = wasm_f32x4_splat(*a1); c10 = MADD(x, b0, c10); c11 = MADD(x, b1, c11);
        x = wasm_f32x4_splat(*a2); c20 = MADD(x, b0, c20); c21 = MADD(x, b1, c21);
        x = wasm_f32x4_splat(*a3); c30 = MADD(x, b0, c30); c31 = MADD(x, b1, c31);
        a0 += csa; a1 += csa; a2 += csa; a3 += csa;
        b += ldb;
    }
    wasm_v128_store(c, c00);            wasm_v128_store(c + 4, c01);
    wasm_v128_store(c + ldc, c10);      wasm_v128_store(c + ldc + 4, c11);
    wasm_v128_store(c + 2 * ldc, c20);  wasm_v128_store(c + 2 * ldc + 4, c21);
    wasm_v128_store(c + 3 * ldc, c30);  wasm_v128_store(c + 3 * ldc + 4, c31);
}

/* One row of A against `vecs` (1 or 2) vectors of B's columns: the rows left over by block4x8. */
static inline void block1xv(int vecs, int k, const float *a, int csa, const float *b, int ldb,
                            float *c, int accumulate) {
    v128_t c0 = accumulate ? wasm_v128_load(c) : wasm_f32x4_splat(0.0f);
    v128_t c1 = (vecs > 1 && accumulate) ? wasm_v128_load(c + 4) : wasm_f32x4_splat(0.0f);
    for (int p = 0; p < k; p++) {
        v128_t x = wasm_f32x4_splat(a[p * csa]);
        c0 = MADD(x, wasm_v128_load(b), c0);
        if (vecs > 1) c1 = MADD(x, wasm_v128_load(b + 4), c1);
        b += ldb;
    }
    wasm_v128_store(c, c0);
    if (vecs > 1) wasm_v128_store(c + 4, c1);
}

/* Four rows of A against one vector (4 columns) of B: the 4-wide column panel left over. */
static inline void block4x4(int k, const float *a, int rsa, int csa, const float *b, int ldb,
                            float *c, int ldc, int accumulate) {
    v128_t c0, c1, c2, c3;
    if (accumulate) {
        c0 = wasm_v128_load(c); c1 = wasm_v128_load(c + ldc);
        c2 = wasm_v128_load(c + 2 * ldc); c3 = wasm_v128_load(c + 3 * ldc);
    } else {
        c0 = c1 = c2 = c3 = wasm_f32x4_splat(0.0f);
    }
    for (int p = 0; p < k; p++) {
        v128_t y = wasm_v128_load(b + p * ldb);
        const float *ap = a + p * csa;
        c0 = MADD(wasm_f32x4_splat(ap[0]), y, c0);
        c1 = MADD(wasm_f32x4_splat(ap[rsa]), y, c1);
        c2 = MADD(wasm_f32x4_splat(ap[2 * rsa]), y, c2);
        c3 = MADD(wasm_f32x4_splat(ap[3 * rsa]), y, c3);
    }
    wasm_v128_store(c, c0); wasm_v128_store(c + ldc, c1);
    wasm_v128_store(c + 2 * ldc, c2); wasm_v128_store(c + 3 * ldc, c3);
}

/* One chunk of k: every block of C over rows [p0, p0 + kc) of B (and columns of A). */
static void gemm_chunk(int m, int n, int kc, const float *a, int rsa, int csa,
                       const float *b, int ldb, float *c, int ldc, int accumulate) {
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        int i = 0;
        for (; i + 4 <= m; i += 4)
            block4x8(kc, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, accumulate);
        for (; i < m; i++) block1xv(2, kc, a + i * rsa, csa, b + j, ldb, c + i * ldc + j, accumulate);
    }
    if (j + 4 <= n) {
        int i = 0;
        for (; i + 4 <= m; i += 4)
            block4x4(kc, a + i * rsa, rsa, csa, b + j, ldb, c + i * ldc + j, ldc, accumulate);
        for (; i < m; i++) block1xv(1, kc, a + i * rsa, csa, b + j, ldb, c + i * ldc + j, accumulate);
        j += 4;
    }
    /* The last n % 4 columns (the 10-class layer has 2): scalar, one dot product each. */
    for (; j < n; j++) {
        for (int i = 0; i < m; i++) {
            const float *ai = a + i * rsa;
            float sum = accumulate ? c[i * ldc + j] : 0.0f;
            for (int p = 0; p < kc; p++) sum += ai[p * csa] * b[p * ldb + j];
            c[i * ldc + j] = sum;
        }
    }
}

/* k is taken GEMM_KC rows at a time, each chunk's blocks adding to what the last left in C: a
 * convolution's filter gradient sums over every position of the batch (k = 18,432 for 5x5 filters
 * on 28x28 at batch 32), and without chunks each 8-column panel of B and each block of A would
 * stream the whole k from memory once per block. Every C element still sums its k products in
 * order, so the result is the same to the bit. */
#define GEMM_KC 256

EXPORT void ink_gemm(int m, int n, int k, const float *a, int rsa, int csa,
                     const float *b, int ldb, float *c, int ldc, int accumulate) {
    if (k == 0) {
        if (!accumulate)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) c[i * ldc + j] = 0.0f;
        return;
    }
    for (int p0 = 0; p0 < k; p0 += GEMM_KC) {
        int kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
        gemm_chunk(m, n, kc, a + (long)p0 * csa, rsa, csa, b + (long)p0 * ldb, ldb, c, ldc, accumulate || p0 > 0);
    }
}

/* ---- dense: C = A @ Bt.T, rows of A and of Bt contiguous -----------------------------------
 * The backward pass's delta @ W.T: W.T's rows are strided, but W's rows are the columns we dot
 * with, so each C[i, j] is a dot product of two contiguous rows. A block of 2 rows of A by 4 rows
 * of Bt keeps 8 partial sums in registers; each is reduced across its lanes once at the end.
 */

static inline float lanes_sum(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* One dot product of two contiguous rows of length k. */
static inline float dot(int k, const float *x, const float *y) {
    v128_t s = wasm_f32x4_splat(0.0f);
    int p = 0;
    for (; p + 4 <= k; p += 4) s = MADD(wasm_v128_load(x + p), wasm_v128_load(y + p), s);
    float sum = lanes_sum(s);
    for (; p < k; p++) sum += x[p] * y[p];
    return sum;
}

/* Two rows of A dotted with four rows of Bt: a 2 x 4 block of C. */
static inline void dots2x4(int k, const float *a, int lda, const float *bt, int ldbt, float *c, int ldc) {
    const float *x0 = a, *x1 = a + lda;
    const float *y0 = bt, *y1 = bt + ldbt, *y2 = bt + 2 * ldbt, *y3 = bt + 3 * ldbt;
    v128_t s00, s01, s02, s03, s10, s11, s12, s13;
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = wasm_f32x4_splat(0.0f);
    int p = 0;
    for (; p + 4 <= k; p += 4) {
        v128_t u0 = wasm_v128_load(x0 + p), u1 = wasm_v128_load(x1 + p), y;
        y = wasm_v128_load(y0 + p); s00 = MADD(u0, y, s00); s10 = MADD(u1, y, s10);
        y = wasm_v128_load(y1 + p); s01 = MADD(u0, y, s01); s11 = MADD(u1, y, s11);
        y = wasm_v128_load(y2 + p); s02 = MADD(u0, y, s02); s12 = MADD(u1, y, s12);
        y = wasm_v128_load(y3 + p); s03 = MADD(u0, y, s03); s13 = MADD(u1, y, s13);
    }
    float r[8] = {lanes_sum(s00), lanes_sum(s01), lanes_sum(s02), lanes_sum(s03),
                  lanes_sum(s10), lanes_sum(s11), lanes_sum(s12), lanes_sum(s13)};
    for (; p < k; p++) {
        r[0] += x0[p] * y0[p]; r[1] += x0[p] * y1[p]; r[2] += x0[p] * y2[p]; r[3] += x0[p] * y3[p];
        r[4] += x1[p] * y0[p]; r[5] += x1[p] * y1[p]; r[6] += x1[p] * y2[p]; r[7] += x1[p] * y3[p];
    }
    for (int q = 0; q < 4; q++) {
        c[q] = r[q];
        c[ldc + q] = r[4 + q];
    }
}

EXPORT void ink_gemm_nt(int m, int n, int k, const float *a, int lda, const float *bt, int ldbt,
                        float *c, int ldc) {
    int i = 0;
    for (; i + 2 <= m; i += 2) {
        int j = 0;
        for (; j + 4 <= n; j += 4) dots2x4(k, a + i * lda, lda, bt + j * ldbt, ldbt, c + i * ldc + j, ldc);
        for (; j < n; j++) {
            c[i * ldc + j] = dot(k, a + i * lda, bt + j * ldbt);
            c[(i + 1) * ldc + j] = dot(k, a + (i + 1) * lda, bt + j * ldbt);
        }
    }
    for (; i < m; i++)
        for (int j = 0; j < n; j++) c[i * ldc + j] = dot(k, a + i * lda, bt + j * ldbt);
}

/* ---- sparse input ---------------------------------------------------------------------------
 * MNIST pixels and drawn digits are ~81% zeros. ink_compact lists A's non-zeros once per batch,
 * by row (for the forward X @ W1) and by column (for the backward X.T @ dH); ink_spmm then
 * multiplies such a list with a dense matrix, touching only the rows of it that a non-zero
 * selects. Testing every element for zero inside a product is no faster than dense work, so the
 * zeros are skipped here once, 4 at a time.
 */

/* Lists the non-zeros of A (m x k, element (i, p) at a[i*rsa + p*csa]).
 * By row: row i's entries are row_col/row_val[row_start[i] .. row_start[i+1]) (m+1 starts).
 * By column: column p's entries are col_row/col_val[col_start[p] .. col_start[p+1]) (k+1 starts),
 * in increasing row order. Each entry array holds `capacity` values. Returns the count, or -1 as
 * soon as there are more non-zeros than that: A is too dense for the sparse path to pay off.
 */
EXPORT int ink_compact(int m, int k, const float *a, int rsa, int csa, int capacity,
                       int *row_start, int *row_col, float *row_val,
                       int *col_start, int *col_row, float *col_val) {
    int nnz = 0;
    for (int p = 0; p <= k; p++) col_start[p] = 0;
    for (int i = 0; i < m; i++) {
        const float *ai = a + i * rsa;
        row_start[i] = nnz;
        int p = 0;
        if (csa == 1) {
            for (; p + 4 <= k; p += 4) {
                v128_t v = wasm_v128_load(ai + p);
                /* bit t is set where lane t is non-zero (NaN included, so it is never lost) */
                int mask = wasm_i32x4_bitmask(wasm_f32x4_ne(v, wasm_f32x4_splat(0.0f)));
                while (mask) {
                    int t = __builtin_ctz(mask);
                    mask &= mask - 1;
                    if (nnz == capacity) return -1;
                    row_col[nnz] = p + t;
                    row_val[nnz] = ai[p + t];
                    col_start[p + t + 1]++;
                    nnz++;
                }
            }
        }
        for (; p < k; p++) {
            float v = ai[p * csa];
            if (v != 0.0f) {
                if (nnz == capacity) return -1;
                row_col[nnz] = p;
                row_val[nnz] = v;
                col_start[p + 1]++;
                nnz++;
            }
        }
    }
    row_start[m] = nnz;
    /* Column counts to starts; then deal each entry into its column, rows in order. col_start[p]
     * serves as column p's write cursor and ends up at column p+1's start, so shift back after. */
    for (int p = 0; p < k; p++) col_start[p + 1] += col_start[p];
    for (int i = 0; i < m; i++) {
        for (int e = row_start[i]; e < row_start[i + 1]; e++) {
            int slot = col_start[row_col[e]]++;
            col_row[slot] = i;
            col_val[slot] = row_val[e];
        }
    }
    for (int p = k; p > 0; p--) col_start[p] = col_start[p - 1];
    col_start[0] = 0;
    return nnz;
}

/* C = S @ B where S is an m-row list from ink_compact (by row for X @ W, or by column for
 * X.T @ D) and B's rows are contiguous: C[i, :] = sum of value * B[index, :] over row i's
 * entries. 32 columns at a time stay in 8 registers while the entries stream by.
 */
EXPORT void ink_spmm(int m, int n, const int *start, const int *index, const float *value,
                     const float *b, int ldb, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        int e0 = start[i], e1 = start[i + 1];
        float *ci = c + i * ldc;
        int j = 0;
        for (; j + 32 <= n; j += 32) {
            v128_t s0, s1, s2, s3, s4, s5, s6, s7;
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = wasm_f32x4_splat(0.0f);
            for (int e = e0; e < e1; e++) {
                v128_t x = wasm_f32x4_splat(value[e]);
                const float *y = b + index[e] * ldb + j;
                s0 = MADD(x, wasm_v128_load(y), s0);       s1 = MADD(x, wasm_v128_load(y + 4), s1);
                s2 = MADD(x, wasm_v128_load(y + 8), s2);   s3 = MADD(x, wasm_v128_load(y + 12), s3);
                s4 = MADD(x, wasm_v128_load(y + 16), s4);  s5 = MADD(x, wasm_v128_load(y + 20), s5);
                s6 = MADD(x, wasm_v128_load(y + 24), s6);  s7 = MADD(x, wasm_v128_load(y + 28), s7);
            }
            wasm_v128_store(ci + j, s0);       wasm_v128_store(ci + j + 4, s1);
            wasm_v128_store(ci + j + 8, s2);   wasm_v128_store(ci + j + 12, s3);
            wasm_v128_store(ci + j + 16, s4);  wasm_v128_store(ci + j + 20, s5);
            wasm_v128_store(ci + j + 24, s6);  wasm_v128_store(ci + j + 28, s7);
        }
        for (; j + 4 <= n; j += 4) {
            v128_t s = wasm_f32x4_splat(0.0f);
            for (int e = e0; e < e1; e++)
                s = MADD(wasm_f32x4_splat(value[e]), wasm_v128_load(b + index[e] * ldb + j), s);
            wasm_v128_store(ci + j, s);
        }
        for (; j < n; j++) {
            float s = 0.0f;
            for (int e = e0; e < e1; e++) s += value[e] * b[index[e] * ldb + j];
            ci[j] = s;
        }
    }
}

/* ---- optimizer steps ------------------------------------------------------------------------
 * One pass over a parameter, its gradient and the optimizer's state, where numpy makes four to
 * eight. Each element goes through the same float32 operations in the same order as the numpy
 * code in inkling/network/optim.py (multiplies and adds kept apart, never fused; wasm's sqrt and divide
 * are correctly rounded), so both engines give bit-identical weights.
 */

/* p -= lr * g */
EXPORT void ink_sgd(int n, float *p, const float *g, float lr) {
    v128_t r = wasm_f32x4_splat(lr);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(p + i, wasm_f32x4_sub(wasm_v128_load(p + i), wasm_f32x4_mul(wasm_v128_load(g + i), r)));
    for (; i < n; i++) p[i] -= g[i] * lr;
}

/* v = mu * v + g; p -= lr * v */
EXPORT void ink_momentum(int n, float *p, const float *g, float *v, float lr, float mu) {
    v128_t r = wasm_f32x4_splat(lr), u = wasm_f32x4_splat(mu);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), u), wasm_v128_load(g + i));
        wasm_v128_store(v + i, vi);
        wasm_v128_store(p + i, wasm_f32x4_sub(wasm_v128_load(p + i), wasm_f32x4_mul(vi, r)));
    }
    for (; i < n; i++) {
        v[i] = v[i] * mu + g[i];
        p[i] -= v[i] * lr;
    }
}

/* m = b1 * m + c1 * g; v = b2 * v + c2 * g * g; p -= step * m / (sqrt(v) + eps), where c1 and c2
 * are 1 - b1 and 1 - b2 rounded as numpy rounds them. The caller folds Adam's bias corrections
 * into `step` and `eps`. */
EXPORT void ink_adam(int n, float *p, const float *g, float *m, float *v, float b1, float c1, float b2,
                     float c2, float step, float eps) {
    v128_t B1 = wasm_f32x4_splat(b1), B2 = wasm_f32x4_splat(b2), C1 = wasm_f32x4_splat(c1),
           C2 = wasm_f32x4_splat(c2), S = wasm_f32x4_splat(step), E = wasm_f32x4_splat(eps);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t gi = wasm_v128_load(g + i);
        v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), B1), wasm_f32x4_mul(C1, gi));
        v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), B2),
                                   wasm_f32x4_mul(C2, wasm_f32x4_mul(gi, gi)));
        wasm_v128_store(m + i, mi);
        wasm_v128_store(v + i, vi);
        v128_t d = wasm_f32x4_div(mi, wasm_f32x4_add(wasm_f32x4_sqrt(vi), E));
        wasm_v128_store(p + i, wasm_f32x4_sub(wasm_v128_load(p + i), wasm_f32x4_mul(d, S)));
    }
    for (; i < n; i++) {
        m[i] = m[i] * b1 + c1 * g[i];
        v[i] = v[i] * b2 + c2 * (g[i] * g[i]);
        p[i] -= (m[i] / (__builtin_sqrtf(v[i]) + eps)) * step;
    }
}

/* ---- convolution and pooling ----------------------------------------------------------------
 * Images are NHWC float32, contiguous. A convolution's patches (im2col) list, for each output
 * pixel, its k x k window row by row with the c channels of each pixel together: (ky, kx, ch),
 * so a window's row is k * c contiguous floats of the input (one copy each, not one per value).
 * Stride 1; `pad` rows and columns of zeros around the image. These move data only: the same
 * values come out as numpy's, bit for bit (inkling/network/conv.py is the reference).
 */

/* cols (n*oh*ow, k*k*c) = the patches of x (n, h, w, c), oh = h + 2*pad - k + 1 (ow alike). */
EXPORT void ink_patches(int n, int h, int w, int c, int k, int pad, const float *x, float *cols) {
    int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1, row = k * k * c;
    float *out = cols;
    for (int b = 0; b < n; b++) {
        const float *img = x + (long)b * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                for (int ky = 0; ky < k; ky++) {
                    int y = oy + ky - pad;
                    float *dst = out + ky * k * c;
                    if (y < 0 || y >= h) {
                        for (int i = 0; i < k * c; i++) dst[i] = 0.0f;
                        continue;
                    }
                    int x0 = ox - pad, lo = x0 < 0 ? -x0 : 0, hi = x0 + k > w ? w - x0 : k;
                    for (int i = 0; i < lo * c; i++) dst[i] = 0.0f;
                    const float *src = img + ((long)y * w + x0 + lo) * c;
                    int count = (hi - lo) * c, i = 0;
                    float *d = dst + lo * c;
                    for (; i + 4 <= count; i += 4) wasm_v128_store(d + i, wasm_v128_load(src + i));
                    for (; i < count; i++) d[i] = src[i];
                    for (int j = hi * c; j < k * c; j++) dst[j] = 0.0f;
                }
                out += row;
            }
        }
    }
}

/* dx (n, h, w, c) = the sum of patch rows `cols` back onto the image (col2im, the transpose of
 * ink_patches): where windows overlap, their values add; padding is dropped. Overwrites dx. */
EXPORT void ink_unpatch(int n, int h, int w, int c, int k, int pad, const float *cols, float *dx) {
    int oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1, row = k * k * c;
    for (long i = 0; i < (long)n * h * w * c; i++) dx[i] = 0.0f;
    const float *in = cols;
    for (int b = 0; b < n; b++) {
        float *img = dx + (long)b * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                for (int ky = 0; ky < k; ky++) {
                    int y = oy + ky - pad;
                    if (y < 0 || y >= h) continue;
                    int x0 = ox - pad, lo = x0 < 0 ? -x0 : 0, hi = x0 + k > w ? w - x0 : k;
                    float *d = img + ((long)y * w + x0 + lo) * c;
                    const float *s = in + (ky * k + lo) * c;
                    int count = (hi - lo) * c, i = 0;
                    for (; i + 4 <= count; i += 4)
                        wasm_v128_store(d + i, wasm_f32x4_add(wasm_v128_load(d + i), wasm_v128_load(s + i)));
                    for (; i < count; i++) d[i] += s[i];
                }
                in += row;
            }
        }
    }
}

/* 2x2 max-pooling, stride 2, of x (n, h, w, c) into out (n, h/2, w/2, c); a last odd row or column
 * is left out. where[i] (0-3: top-left, top-right, bottom-left, bottom-right) is the first window
 * position holding the maximum, as numpy's argmax picks it. */
EXPORT void ink_pool2(int n, int h, int w, int c, const float *x, float *out, unsigned char *where) {
    int oh = h / 2, ow = w / 2;
    for (int b = 0; b < n; b++) {
        const float *img = x + (long)b * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const float *p0 = img + ((long)(2 * oy) * w + 2 * ox) * c, *p1 = p0 + c;
                const float *p2 = p0 + (long)w * c, *p3 = p2 + c;
                for (int ch = 0; ch < c; ch++) {
                    float best = p0[ch];
                    unsigned char at = 0;
                    if (p1[ch] > best) { best = p1[ch]; at = 1; }
                    if (p2[ch] > best) { best = p2[ch]; at = 2; }
                    if (p3[ch] > best) { best = p3[ch]; at = 3; }
                    *out++ = best;
                    *where++ = at;
                }
            }
        }
    }
}

/* The gradient of ink_pool2's input: dx (n, h, w, c) gets each output's gradient dout at the input
 * it took (where), 0 elsewhere. Overwrites dx. */
EXPORT void ink_pool2_backward(int n, int h, int w, int c, const float *dout, const unsigned char *where,
                               float *dx) {
    int oh = h / 2, ow = w / 2;
    for (long i = 0; i < (long)n * h * w * c; i++) dx[i] = 0.0f;
    for (int b = 0; b < n; b++) {
        float *img = dx + (long)b * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *p0 = img + ((long)(2 * oy) * w + 2 * ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    int at = *where++;
                    p0[(at >> 1) * (long)w * c + (at & 1) * c + ch] = *dout++;
                }
            }
        }
    }
}

/* d[i] = z[i] > 0 ? d[i] : 0: ReLU's gradient, where z is the layer's output. */
EXPORT void ink_relu_mask(int n, float *d, const float *z) {
    v128_t zero = wasm_f32x4_splat(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(d + i, wasm_v128_and(wasm_v128_load(d + i), wasm_f32x4_gt(wasm_v128_load(z + i), zero)));
    for (; i < n; i++) d[i] = z[i] > 0.0f ? d[i] : 0.0f;
}

/* Affine resampling, as inkling.network.warp.warp: out[b] pixel (x, y) reads images[b] at
 * (c0*x + c1*y + c2, c3*x + c4*y + c5), coeffs[6*b...], bilinearly, coordinates clipped into a zero
 * border of 2 (so far-off points blend zeros); outside the image reads 0. Overwrites out. */
EXPORT void ink_warp(int n, int side, const float *images, const float *coeffs, float *out) {
    const float low = -2.0f, high = (float)side + 2.0f - 1.001f;
    for (int b = 0; b < n; b++) {
        const float *img = images + (long)b * side * side, *k = coeffs + 6 * b;
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                float sx = k[0] * (float)x + k[1] * (float)y + k[2];
                float sy = k[3] * (float)x + k[4] * (float)y + k[5];
                sx = sx < low ? low : sx > high ? high : sx;
                sy = sy < low ? low : sy > high ? high : sy;
                float x0 = __builtin_floorf(sx), y0 = __builtin_floorf(sy);
                float fx = sx - x0, fy = sy - y0;
                int ix = (int)x0, iy = (int)y0;
                /* The four neighbours; an index off the image is the zero border. */
                int in_x0 = (unsigned)ix < (unsigned)side, in_x1 = (unsigned)(ix + 1) < (unsigned)side;
                int in_y0 = (unsigned)iy < (unsigned)side, in_y1 = (unsigned)(iy + 1) < (unsigned)side;
                const float *r0 = img + (long)iy * side, *r1 = r0 + side;
                float p00 = in_y0 && in_x0 ? r0[ix] : 0.0f, p01 = in_y0 && in_x1 ? r0[ix + 1] : 0.0f;
                float p10 = in_y1 && in_x0 ? r1[ix] : 0.0f, p11 = in_y1 && in_x1 ? r1[ix + 1] : 0.0f;
                float top = p00 * (1.0f - fx) + p01 * fx, bottom = p10 * (1.0f - fx) + p11 * fx;
                *out++ = top * (1.0f - fy) + bottom * fy;
            }
        }
    }
}

/* A thicker (mode 1) or thinner (mode 2) pen, as inkling.network.warp.pen: each pixel of those images
 * becomes halfway to the maximum (or minimum) of its 3x3 neighbourhood, edges repeated. In place;
 * scratch holds side * side floats (the image as it was). */
EXPORT void ink_pen(int n, int side, float *images, const unsigned char *modes, float *scratch) {
    for (int b = 0; b < n; b++) {
        int mode = modes[b];
        if (mode != 1 && mode != 2) continue;
        float *img = images + (long)b * side * side;
        for (int i = 0; i < side * side; i++) scratch[i] = img[i];
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                float centre = scratch[y * side + x], pick = centre;
                for (int dy = -1; dy <= 1; dy++) {
                    int yy = y + dy < 0 ? 0 : y + dy >= side ? side - 1 : y + dy;
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx < 0 ? 0 : x + dx >= side ? side - 1 : x + dx;
                        float v = scratch[yy * side + xx];
                        pick = mode == 1 ? (v > pick ? v : pick) : (v < pick ? v : pick);
                    }
                }
                img[y * side + x] = 0.5f * (centre + pick);
            }
        }
    }
}
