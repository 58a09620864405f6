;; im2col and col2im for conv2d on the wasm backend (blas-conv.ts): the loops that spread each output
;; pixel's filter window out into one row of a matrix, and add such rows back. In JavaScript they cost
;; about 2.5 ns per value; here, on the backend's own memory, whole window rows are moved at once.
;; Also a direct convolution for few channels and BatchNorm's per-channel passes (batchnorm-kernels.ts),
;; four float32 values at a time (SIMD).
;;
;; Tensors are NHWC float32; all pointers are byte offsets into the imported memory (the TensorFlow.js
;; wasm heap). A window row is kw pixels of c channels, contiguous in the input whenever it lies inside.
;; Compiled into conv-loops-wasm.ts by `npm run build:wasm` (lib/scripts/build-wasm.mjs).
(module
  (import "env" "memory" (memory 1))

  ;; memory.copy / memory.fill, but runs of up to a few hundred bytes (a window row of a few channels) by
  ;; hand, 16 bytes at a time: the bulk instructions cost a call each, more than moving 96 bytes.
  ;; `bytes` is a multiple of 4.
  (func $copy (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32)
    (if (i32.ge_u (local.get $bytes) (i32.const 512))
      (then (memory.copy (local.get $dst) (local.get $src) (local.get $bytes)) (return)))
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $vDone (loop $vNext
      (br_if $vDone (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $end)))
      (v128.store (local.get $dst) (v128.load (local.get $src)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br $vNext)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (i32.store (local.get $dst) (i32.load (local.get $src)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $next))))

  (func $zero (param $dst i32) (param $bytes i32)
    (local $end i32)
    (if (i32.ge_u (local.get $bytes) (i32.const 512))
      (then (memory.fill (local.get $dst) (i32.const 0) (local.get $bytes)) (return)))
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (block $vDone (loop $vNext
      (br_if $vDone (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $end)))
      (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $vNext)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (i32.store (local.get $dst) (i32.const 0))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (br $next))))

  ;; out[(b, oy, ox), (ky, kx, ch)] = x[b, oy*sh - top + ky, ox*sw - left + kx, ch], or 0 outside.
  (func (export "im2col")
    (param $x i32) (param $out i32) (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $sh i32) (param $sw i32) (param $kh i32) (param $kw i32)
    (param $top i32) (param $left i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $ix0 i32) (local $o i32) (local $pix i32) (local $row i32) (local $line i32)
    (local.set $pix (i32.shl (local.get $c) (i32.const 2)))
    (local.set $row (i32.mul (local.get $kw) (local.get $pix)))
    (local.set $o (local.get $out))
    (local.set $b (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $oyDone (loop $oyLoop
        (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            (if (i32.ge_u (local.get $iy) (local.get $h)) ;; unsigned: a negative row is out too
              (then (call $zero (local.get $o) (local.get $row)))
              (else
                ;; byte offset of x[b, iy, 0, 0]
                (local.set $line (i32.add (local.get $x)
                  (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (local.get $pix))))
                (if (i32.and (i32.ge_s (local.get $ix0) (i32.const 0))
                             (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w)))
                  (then (call $copy (local.get $o) (i32.add (local.get $line) (i32.mul (local.get $ix0) (local.get $pix))) (local.get $row)))
                  (else
                    (local.set $kx (i32.const 0))
                    (block $kxDone (loop $kxLoop
                      (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                      (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                      (if (i32.ge_u (local.get $ix) (local.get $w))
                        (then (call $zero (i32.add (local.get $o) (i32.mul (local.get $kx) (local.get $pix))) (local.get $pix)))
                        (else (call $copy (i32.add (local.get $o) (i32.mul (local.get $kx) (local.get $pix)))
                                           (i32.add (local.get $line) (i32.mul (local.get $ix) (local.get $pix))) (local.get $pix))))
                      (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                      (br $kxLoop)))))))
            (local.set $o (i32.add (local.get $o) (local.get $row)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $oxLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oyLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; dst[i] += src[i] for `count` floats, four at a time while it can.
  (func $addInto (param $dst i32) (param $src i32) (param $count i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $end4 (i32.sub (local.get $end) (i32.const 12)))
    (block $vDone (loop $vLoop
      (br_if $vDone (i32.ge_u (local.get $dst) (local.get $end4)))
      (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br $vLoop)))
    (block $sDone (loop $sLoop
      (br_if $sDone (i32.ge_u (local.get $dst) (local.get $end)))
      (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $sLoop))))

  ;; The reverse of im2col: dx (zeroed here) receives the sum of every row's values at their window.
  (func (export "col2im")
    (param $cols i32) (param $dx i32) (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $sh i32) (param $sw i32) (param $kh i32) (param $kw i32)
    (param $top i32) (param $left i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $ix0 i32) (local $o i32) (local $pix i32) (local $row i32) (local $line i32)
    (local.set $pix (i32.shl (local.get $c) (i32.const 2)))
    (local.set $row (i32.mul (local.get $kw) (local.get $pix)))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $n) (local.get $h)) (local.get $w)) (local.get $pix)))
    (local.set $o (local.get $cols))
    (local.set $b (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $oyDone (loop $oyLoop
        (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            (if (i32.lt_u (local.get $iy) (local.get $h))
              (then
                (local.set $line (i32.add (local.get $dx)
                  (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (local.get $pix))))
                (if (i32.and (i32.ge_s (local.get $ix0) (i32.const 0))
                             (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w)))
                  (then (call $addInto (i32.add (local.get $line) (i32.mul (local.get $ix0) (local.get $pix))) (local.get $o)
                                       (i32.mul (local.get $kw) (local.get $c))))
                  (else
                    (local.set $kx (i32.const 0))
                    (block $kxDone (loop $kxLoop
                      (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                      (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                      (if (i32.lt_u (local.get $ix) (local.get $w))
                        (then (call $addInto (i32.add (local.get $line) (i32.mul (local.get $ix) (local.get $pix)))
                                             (i32.add (local.get $o) (i32.mul (local.get $kx) (local.get $pix))) (local.get $c))))
                      (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                      (br $kxLoop)))))))
            (local.set $o (i32.add (local.get $o) (local.get $row)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $oxLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oyLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; BatchNorm's passes (batchnorm-kernels.ts), over [pixels, c] float32 values with c a multiple of 4, one
  ;; group of four channels at a time. Sums run in float32 over blocks of 256 pixels, then in float64.

  ;; out[ch] (float64) = Σ over pixels of (a[p, ch] − ma[ch]) · (b[p, ch] − mb[ch]); with b = 0, of a[p, ch].
  (func (export "channelDots")
    (param $a i32) (param $b i32) (param $ma i32) (param $mb i32) (param $pixels i32) (param $c i32) (param $out i32)
    (local $v i32) (local $p i32) (local $end i32) (local $stride i32) (local $off i32)
    (local $acc v128) (local $lo v128) (local $hi v128) (local $mav v128) (local $mbv v128)
    (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $stride (i32.shl (local.get $c) (i32.const 2)))
    (local.set $v (i32.const 0))
    (block $vDone (loop $vLoop
      (br_if $vDone (i32.ge_u (local.get $v) (local.get $c)))
      (local.set $lo (f64x2.splat (f64.const 0)))
      (local.set $hi (f64x2.splat (f64.const 0)))
      (local.set $mav (v128.load (i32.add (local.get $ma) (i32.shl (local.get $v) (i32.const 2)))))
      (if (local.get $b) (then (local.set $mbv (v128.load (i32.add (local.get $mb) (i32.shl (local.get $v) (i32.const 2)))))))
      (local.set $off (i32.shl (local.get $v) (i32.const 2)))
      (local.set $p (i32.const 0))
      (block $pDone (loop $pBlock
        (br_if $pDone (i32.ge_u (local.get $p) (local.get $pixels)))
        (local.set $end (select (local.get $pixels) (i32.add (local.get $p) (i32.const 256))
          (i32.lt_u (i32.sub (local.get $pixels) (local.get $p)) (i32.const 256))))
        (local.set $acc (f32x4.splat (f32.const 0)))
        (if (local.get $b)
          (then
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
              (local.set $acc (f32x4.add (local.get $acc)
                (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $off))) (local.get $mav))
                           (f32x4.sub (v128.load (i32.add (local.get $b) (local.get $off))) (local.get $mbv)))))
              (local.set $off (i32.add (local.get $off) (local.get $stride)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $next))))
          (else
            ;; A plain sum: four pixels at a time into four sums, so that no addition waits on the one before.
            (local.set $a1 (local.get $acc))
            (local.set $a2 (local.get $acc))
            (local.set $a3 (local.get $acc))
            (block $qDone (loop $quad
              (br_if $qDone (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
              (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $a) (local.get $off)))))
              (local.set $a1 (f32x4.add (local.get $a1) (v128.load (i32.add (i32.add (local.get $a) (local.get $off)) (local.get $stride)))))
              (local.set $a2 (f32x4.add (local.get $a2) (v128.load (i32.add (i32.add (local.get $a) (local.get $off)) (i32.shl (local.get $stride) (i32.const 1))))))
              (local.set $a3 (f32x4.add (local.get $a3) (v128.load (i32.add (i32.add (local.get $a) (local.get $off)) (i32.mul (local.get $stride) (i32.const 3))))))
              (local.set $off (i32.add (local.get $off) (i32.shl (local.get $stride) (i32.const 2))))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br $quad)))
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
              (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $a) (local.get $off)))))
              (local.set $off (i32.add (local.get $off) (local.get $stride)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $next)))
            (local.set $acc (f32x4.add (f32x4.add (local.get $acc) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))))
        (local.set $lo (f64x2.add (local.get $lo) (f64x2.promote_low_f32x4 (local.get $acc))))
        (local.set $hi (f64x2.add (local.get $hi) (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $acc) (local.get $acc)))))
        (br $pBlock)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $v) (i32.const 3))) (local.get $lo))
      (v128.store (i32.add (local.get $out) (i32.add (i32.shl (local.get $v) (i32.const 3)) (i32.const 16))) (local.get $hi))
      (local.set $v (i32.add (local.get $v) (i32.const 4)))
      (br $vLoop))))

  ;; A mean over middle axes (global average pooling) of x [outer, mid, inner], inner a multiple of 4:
  ;; out[o, i] = (Σ over m of x[o, m, i]) / mid, summed in float32 in the order m = 0, 1, ...
  (func (export "meanMiddle") (param $x i32) (param $out i32) (param $outer i32) (param $mid i32) (param $inner i32)
    (local $o i32) (local $i i32) (local $m i32) (local $rowBytes i32) (local $base i32) (local $p i32)
    (local $acc v128) (local $count v128)
    (local.set $rowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $count (f32x4.splat (f32.convert_i32_u (local.get $mid))))
    (local.set $o (i32.const 0))
    (block $oDone (loop $oLoop
      (br_if $oDone (i32.ge_u (local.get $o) (local.get $outer)))
      (local.set $base (i32.add (local.get $x) (i32.mul (i32.mul (local.get $o) (local.get $mid)) (local.get $rowBytes))))
      (local.set $i (i32.const 0))
      (block $iDone (loop $iLoop
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
        (local.set $acc (f32x4.splat (f32.const 0)))
        (local.set $p (i32.add (local.get $base) (local.get $i)))
        (local.set $m (i32.const 0))
        (block $mDone (loop $mLoop
          (br_if $mDone (i32.ge_u (local.get $m) (local.get $mid)))
          (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $p))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br $mLoop)))
        (v128.store (i32.add (local.get $out) (i32.add (i32.mul (local.get $o) (local.get $rowBytes)) (local.get $i)))
          (f32x4.div (local.get $acc) (local.get $count)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $iLoop)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $oLoop))))

  ;; Its gradient: out[o, m, i] = dy[o, i] / mid for every m.
  (func (export "spreadMiddle") (param $dy i32) (param $out i32) (param $outer i32) (param $mid i32) (param $inner i32)
    (local $o i32) (local $i i32) (local $m i32) (local $rowBytes i32) (local $src i32) (local $dst i32)
    (local $v v128) (local $count v128)
    (local.set $rowBytes (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $count (f32x4.splat (f32.convert_i32_u (local.get $mid))))
    (local.set $dst (local.get $out))
    (local.set $o (i32.const 0))
    (block $oDone (loop $oLoop
      (br_if $oDone (i32.ge_u (local.get $o) (local.get $outer)))
      (local.set $m (i32.const 0))
      (block $mDone (loop $mLoop
        (br_if $mDone (i32.ge_u (local.get $m) (local.get $mid)))
        (local.set $src (i32.add (local.get $dy) (i32.mul (local.get $o) (local.get $rowBytes))))
        (local.set $i (i32.const 0))
        (block $iDone (loop $iLoop
          (br_if $iDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (v128.store (local.get $dst) (f32x4.div (v128.load (i32.add (local.get $src) (local.get $i))) (local.get $count)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $iLoop)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $mLoop)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $oLoop))))

  ;; out[p, ch] = a[p, ch] · ka[ch] + b[p, ch] · kb[ch] + k0[ch]; with b = 0, a[p, ch] · ka[ch] + k0[ch].
  (func (export "channelAffine")
    (param $a i32) (param $b i32) (param $out i32) (param $ka i32) (param $kb i32) (param $k0 i32) (param $pixels i32) (param $c i32)
    (local $off i32) (local $q i32) (local $end i32) (local $stride i32) (local $y v128)
    (local.set $stride (i32.shl (local.get $c) (i32.const 2)))
    (local.set $end (i32.mul (local.get $pixels) (local.get $stride)))
    (local.set $off (i32.const 0))
    (local.set $q (i32.const 0)) ;; byte offset of the channel group within a pixel
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $y (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $off))) (v128.load (i32.add (local.get $ka) (local.get $q))))
                               (v128.load (i32.add (local.get $k0) (local.get $q)))))
      (if (local.get $b)
        (then (local.set $y (f32x4.add (local.get $y)
          (f32x4.mul (v128.load (i32.add (local.get $b) (local.get $off))) (v128.load (i32.add (local.get $kb) (local.get $q))))))))
      (v128.store (i32.add (local.get $out) (local.get $off)) (local.get $y))
      (local.set $off (i32.add (local.get $off) (i32.const 16)))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (if (i32.eq (local.get $q) (local.get $stride)) (then (local.set $q (i32.const 0))))
      (br $next))))

  ;; A direct convolution for few channels (blas-conv.ts), where spreading the input out for a matrix product
  ;; costs more than the arithmetic: out[b, oy, ox, o] = Σ over ky, kx, c of
  ;; x[b, oy*sh − top + ky, ox*sw − left + kx, c] · f[ky, kx, c, o], four output channels at a time (co is a
  ;; multiple of 4). Windows past the edge count as zeros. Away from the left and right edges four
  ;; neighbouring output pixels are done together, so that each filter vector is loaded once for four.
  (func (export "convDirect")
    (param $x i32) (param $f i32) (param $out i32) (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $oh i32) (param $ow i32) (param $sh i32) (param $sw i32) (param $kh i32) (param $kw i32)
    (param $top i32) (param $left i32) (param $co i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ix0 i32) (local $o i32) (local $image i32) (local $width i32)
    (local.set $o (local.get $out))
    (local.set $b (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $image (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (local.get $ci)) (i32.const 2))))
      (local.set $oy (i32.const 0))
      (block $oyDone (loop $oyLoop
        (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
          ;; four pixels whose windows all lie inside the row: from ix0 to ix0 + 3·sw + kw
          (local.set $width (select (i32.const 4) (i32.const 1)
            (i32.and (i32.and (i32.le_u (i32.add (local.get $ox) (i32.const 4)) (local.get $ow)) (i32.ge_s (local.get $ix0) (i32.const 0)))
                     (i32.le_s (i32.add (i32.add (local.get $ix0) (i32.mul (i32.const 3) (local.get $sw))) (local.get $kw)) (local.get $w)))))
          (call $convPixels (local.get $image) (local.get $f) (local.get $o) (local.get $h) (local.get $w) (local.get $ci)
            (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ix0) (local.get $sw)
            (local.get $kh) (local.get $kw) (local.get $co) (local.get $width))
          (local.set $o (i32.add (local.get $o) (i32.shl (i32.mul (local.get $width) (local.get $co)) (i32.const 2))))
          (local.set $ox (i32.add (local.get $ox) (local.get $width)))
          (br $oxLoop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oyLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; One output pixel (width 1, any window), or four side by side (width 4, windows inside the row), of
  ;; convDirect: the window's top-left corner at (iy0, ix0) of `image`; the next pixel's sw columns on.
  (func $convPixels
    (param $image i32) (param $f i32) (param $o i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $iy0 i32) (param $ix0 i32) (param $sw i32) (param $kh i32) (param $kw i32) (param $co i32) (param $width i32)
    (local $v i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32) (local $c i32)
    (local $xp i32) (local $fp i32) (local $fstep i32) (local $d i32) (local $fv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $fstep (i32.shl (local.get $co) (i32.const 2)))
    (local.set $d (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2)))
    (local.set $v (i32.const 0))
    (block $vDone (loop $vLoop
      (br_if $vDone (i32.ge_u (local.get $v) (local.get $co)))
      (local.set $a0 (f32x4.splat (f32.const 0)))
      (local.set $a1 (local.get $a0)) (local.set $a2 (local.get $a0)) (local.set $a3 (local.get $a0))
      (local.set $ky (i32.const 0))
      (block $kyDone (loop $kyLoop
        (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
        (local.set $iy (i32.add (local.get $iy0) (local.get $ky)))
        (if (i32.lt_u (local.get $iy) (local.get $h)) (then
          (local.set $kx (i32.const 0))
          (block $kxDone (loop $kxLoop
            (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
            (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
            (if (i32.lt_u (local.get $ix) (local.get $w)) (then
              (local.set $xp (i32.add (local.get $image) (i32.shl
                (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (local.get $ci)) (i32.const 2))))
              (local.set $fp (i32.add (local.get $f) (i32.shl
                (i32.add (i32.mul (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $ci)) (local.get $co)) (local.get $v))
                (i32.const 2))))
              (local.set $c (i32.const 0))
              (if (i32.eq (local.get $width) (i32.const 4))
                (then
                  (block $cDone (loop $cLoop
                    (br_if $cDone (i32.ge_u (local.get $c) (local.get $ci)))
                    (local.set $fv (v128.load (local.get $fp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (local.get $fv))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (local.get $d))) (local.get $fv))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.shl (local.get $d) (i32.const 1)))) (local.get $fv))))
                    (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.mul (local.get $d) (i32.const 3)))) (local.get $fv))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cLoop))))
                (else
                  (block $cDone (loop $cLoop
                    (br_if $cDone (i32.ge_u (local.get $c) (local.get $ci)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cLoop)))))))
            (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
            (br $kxLoop)))))
        (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
        (br $kyLoop)))
      (v128.store (i32.add (local.get $o) (i32.shl (local.get $v) (i32.const 2))) (local.get $a0))
      (if (i32.eq (local.get $width) (i32.const 4)) (then
        (v128.store (i32.add (local.get $o) (i32.add (local.get $fstep) (i32.shl (local.get $v) (i32.const 2)))) (local.get $a1))
        (v128.store (i32.add (local.get $o) (i32.add (i32.shl (local.get $fstep) (i32.const 1)) (i32.shl (local.get $v) (i32.const 2)))) (local.get $a2))
        (v128.store (i32.add (local.get $o) (i32.add (i32.mul (local.get $fstep) (i32.const 3)) (i32.shl (local.get $v) (i32.const 2)))) (local.get $a3))))
      (local.set $v (i32.add (local.get $v) (i32.const 4)))
      (br $vLoop))))

  ;; The filter gradient of a stride-1 convolution for few channels, without the im2col matrix:
  ;; df[ky, kx, c, o] = Σ over b, oy, ox of x[b, oy − top + ky, ox − left + kx, c] · dy[b, oy, ox, o], for the
  ;; output pixels whose window position (ky, kx) lies inside the input (the rest see zeros). Four input
  ;; channels (c multiple of 4) by four output channels (co multiple of 4) at a time, one pass over dy per
  ;; window position and channel block. Each output row is summed in float32, rows are added in float64, so
  ;; that half a million terms lose no more precision than a blocked matrix product.
  (func (export "convFilterGrad")
    (param $x i32) (param $dy i32) (param $out i32) (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $top i32) (param $left i32) (param $co i32)
    (local $ky i32) (local $kx i32) (local $c i32) (local $v i32) (local $b i32) (local $oy i32) (local $ox i32)
    (local $oy0 i32) (local $oy1 i32) (local $ox0 i32) (local $ox1 i32) (local $xp i32) (local $dp i32) (local $end i32)
    (local $xstep i32) (local $dstep i32) (local $dv v128) (local $op i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $s5 v128) (local $s6 v128) (local $s7 v128)
    (local.set $xstep (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $dstep (i32.shl (local.get $co) (i32.const 2)))
    (local.set $ky (i32.const 0))
    (block $kyDone (loop $kyLoop
      (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
      ;; rows oy with 0 <= oy − top + ky < h
      (local.set $oy0 (select (i32.sub (local.get $top) (local.get $ky)) (i32.const 0) (i32.gt_s (i32.sub (local.get $top) (local.get $ky)) (i32.const 0))))
      (local.set $oy1 (i32.add (i32.sub (local.get $h) (local.get $ky)) (local.get $top)))
      (if (i32.gt_s (local.get $oy1) (local.get $oh)) (then (local.set $oy1 (local.get $oh))))
      (local.set $kx (i32.const 0))
      (block $kxDone (loop $kxLoop
        (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
        (local.set $ox0 (select (i32.sub (local.get $left) (local.get $kx)) (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
        (local.set $ox1 (i32.add (i32.sub (local.get $w) (local.get $kx)) (local.get $left)))
        (if (i32.gt_s (local.get $ox1) (local.get $ow)) (then (local.set $ox1 (local.get $ow))))
        (local.set $c (i32.const 0))
        (block $cDone (loop $cLoop
          (br_if $cDone (i32.ge_u (local.get $c) (local.get $ci)))
          (local.set $v (i32.const 0))
          (block $vDone (loop $vLoop
            (br_if $vDone (i32.ge_u (local.get $v) (local.get $co)))
            (local.set $s0 (f64x2.splat (f64.const 0)))
            (local.set $s1 (local.get $s0)) (local.set $s2 (local.get $s0)) (local.set $s3 (local.get $s0))
            (local.set $s4 (local.get $s0)) (local.set $s5 (local.get $s0)) (local.set $s6 (local.get $s0)) (local.set $s7 (local.get $s0))
            (if (i32.and (i32.lt_s (local.get $oy0) (local.get $oy1)) (i32.lt_s (local.get $ox0) (local.get $ox1))) (then
              (local.set $b (i32.const 0))
              (block $bDone (loop $bLoop
                (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
                (local.set $oy (local.get $oy0))
                (block $oyDone (loop $oyLoop
                  (br_if $oyDone (i32.ge_s (local.get $oy) (local.get $oy1)))
                  ;; x[b, oy − top + ky, ox0 − left + kx, c] and dy[b, oy, ox0, v]
                  (local.set $xp (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h))
                    (i32.add (i32.sub (local.get $oy) (local.get $top)) (local.get $ky))) (local.get $w))
                    (i32.add (i32.sub (local.get $ox0) (local.get $left)) (local.get $kx))) (local.get $ci)) (local.get $c)) (i32.const 2))))
                  (local.set $dp (i32.add (local.get $dy) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh))
                    (local.get $oy)) (local.get $ow)) (local.get $ox0)) (local.get $co)) (local.get $v)) (i32.const 2))))
                  (local.set $end (i32.add (local.get $dp) (i32.mul (i32.sub (local.get $ox1) (local.get $ox0)) (local.get $dstep))))
                  (local.set $a0 (f32x4.splat (f32.const 0)))
                  (local.set $a1 (local.get $a0)) (local.set $a2 (local.get $a0)) (local.set $a3 (local.get $a0))
                  (loop $oxLoop
                    (local.set $dv (v128.load (local.get $dp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (local.get $dv))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load32_splat offset=4 (local.get $xp)) (local.get $dv))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load32_splat offset=8 (local.get $xp)) (local.get $dv))))
                    (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load32_splat offset=12 (local.get $xp)) (local.get $dv))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                    (br_if $oxLoop (i32.lt_u (local.get $dp) (local.get $end))))
                  (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $a0))))
                  (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                  (local.set $s2 (f64x2.add (local.get $s2) (f64x2.promote_low_f32x4 (local.get $a1))))
                  (local.set $s3 (f64x2.add (local.get $s3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                  (local.set $s4 (f64x2.add (local.get $s4) (f64x2.promote_low_f32x4 (local.get $a2))))
                  (local.set $s5 (f64x2.add (local.get $s5) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))))
                  (local.set $s6 (f64x2.add (local.get $s6) (f64x2.promote_low_f32x4 (local.get $a3))))
                  (local.set $s7 (f64x2.add (local.get $s7) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a3) (local.get $a3)))))
                  (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                  (br $oyLoop)))
                (local.set $b (i32.add (local.get $b) (i32.const 1)))
                (br $bLoop)))))
            ;; out[ky, kx, c + j, v .. v + 3] for j = 0..3
            (local.set $op (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw))
              (local.get $kx)) (local.get $ci)) (local.get $c)) (local.get $co)) (local.get $v)) (i32.const 2))))
            (v128.store (local.get $op) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $s0)) (f32x4.demote_f64x2_zero (local.get $s1))))
            (v128.store (i32.add (local.get $op) (local.get $dstep)) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $s2)) (f32x4.demote_f64x2_zero (local.get $s3))))
            (v128.store (i32.add (local.get $op) (i32.shl (local.get $dstep) (i32.const 1))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $s4)) (f32x4.demote_f64x2_zero (local.get $s5))))
            (v128.store (i32.add (local.get $op) (i32.mul (local.get $dstep) (i32.const 3))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $s6)) (f32x4.demote_f64x2_zero (local.get $s7))))
            (local.set $v (i32.add (local.get $v) (i32.const 4)))
            (br $vLoop)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $cLoop)))
        (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
        (br $kxLoop)))
      (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
      (br $kyLoop))))

  ;; ReLU's gradient (gradients.ts): out[i] = dy[i] · (1 where x[i] > 0, NaN where x[i] is NaN, else 0), as
  ;; TensorFlow.js's dy · step(x) gives it, four values at a time.
  (func (export "reluGrad") (param $x i32) (param $dy i32) (param $out i32) (param $count i32)
    (local $i i32) (local $end i32) (local $v v128)
    (local.set $end (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done (loop $quad
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $i)))
          (v128.bitselect (v128.const f32x4 nan nan nan nan)
            (v128.bitselect (v128.const f32x4 1 1 1 1) (v128.const f32x4 0 0 0 0) (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)))
            (f32x4.ne (local.get $v) (local.get $v)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $quad)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done (loop $one
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (f32.store (i32.add (local.get $out) (local.get $i))
        (f32.mul (f32.load (i32.add (local.get $dy) (local.get $i)))
          (select (f32.const 1)
            (select (f32.const nan) (f32.const 0) (f32.ne (f32.load (i32.add (local.get $x) (local.get $i))) (f32.load (i32.add (local.get $x) (local.get $i)))))
            (f32.gt (f32.load (i32.add (local.get $x) (local.get $i))) (f32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $one))))

  ;; ReLU in place (a fused kernel's output): max(x, 0), NaN staying NaN and −0 becoming 0, as tf.relu gives
  ;; them on cpu and wasm, four values at a time.
  (func (export "reluInPlace") (param $p i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (block $done (loop $quad
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (v128.store (local.get $p) (f32x4.max (v128.load (local.get $p)) (v128.const f32x4 0 0 0 0)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $quad)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $count) (i32.const 3)) (i32.const 2))))
    (block $done (loop $one
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (f32.store (local.get $p) (f32.max (f32.load (local.get $p)) (f32.const 0)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br $one))))

  ;; The 64-byte blocks of binaryRows' and binaryScalar's rows, one loop per op, four vectors per turn: from pa (and pb,
  ;; or the value y) to po, until pa reaches end. With the op tested inside one loop for every vector, the same
  ;; pass took 14 µs instead of 8 for 100,352 values (an MLP's 784×128 weight).
  (func $rowBlocks (param $op i32) (param $pa i32) (param $pb i32) (param $po i32) (param $end i32)
    (block $op3 (block $op2 (block $op1 (block $op0 (br_table $op0 $op1 $op2 $op3 (local.get $op)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.add (v128.load (local.get $pa)) (v128.load (local.get $pb))))
        (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $pa)) (v128.load offset=16 (local.get $pb))))
        (v128.store offset=32 (local.get $po) (f32x4.add (v128.load offset=32 (local.get $pa)) (v128.load offset=32 (local.get $pb))))
        (v128.store offset=48 (local.get $po) (f32x4.add (v128.load offset=48 (local.get $pa)) (v128.load offset=48 (local.get $pb))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64))) (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.sub (v128.load (local.get $pa)) (v128.load (local.get $pb))))
        (v128.store offset=16 (local.get $po) (f32x4.sub (v128.load offset=16 (local.get $pa)) (v128.load offset=16 (local.get $pb))))
        (v128.store offset=32 (local.get $po) (f32x4.sub (v128.load offset=32 (local.get $pa)) (v128.load offset=32 (local.get $pb))))
        (v128.store offset=48 (local.get $po) (f32x4.sub (v128.load offset=48 (local.get $pa)) (v128.load offset=48 (local.get $pb))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64))) (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.mul (v128.load (local.get $pa)) (v128.load (local.get $pb))))
        (v128.store offset=16 (local.get $po) (f32x4.mul (v128.load offset=16 (local.get $pa)) (v128.load offset=16 (local.get $pb))))
        (v128.store offset=32 (local.get $po) (f32x4.mul (v128.load offset=32 (local.get $pa)) (v128.load offset=32 (local.get $pb))))
        (v128.store offset=48 (local.get $po) (f32x4.mul (v128.load offset=48 (local.get $pa)) (v128.load offset=48 (local.get $pb))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64))) (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.sub (v128.load (local.get $pb)) (v128.load (local.get $pa))))
        (v128.store offset=16 (local.get $po) (f32x4.sub (v128.load offset=16 (local.get $pb)) (v128.load offset=16 (local.get $pa))))
        (v128.store offset=32 (local.get $po) (f32x4.sub (v128.load offset=32 (local.get $pb)) (v128.load offset=32 (local.get $pa))))
        (v128.store offset=48 (local.get $po) (f32x4.sub (v128.load offset=48 (local.get $pb)) (v128.load offset=48 (local.get $pa))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64))) (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
        (br $next)))
      (return))

  (func $scalarBlocks (param $op i32) (param $pa i32) (param $y v128) (param $po i32) (param $end i32)
    (block $op3 (block $op2 (block $op1 (block $op0 (br_table $op0 $op1 $op2 $op3 (local.get $op)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.add (v128.load (local.get $pa)) (local.get $y)))
        (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $pa)) (local.get $y)))
        (v128.store offset=32 (local.get $po) (f32x4.add (v128.load offset=32 (local.get $pa)) (local.get $y)))
        (v128.store offset=48 (local.get $po) (f32x4.add (v128.load offset=48 (local.get $pa)) (local.get $y)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.sub (v128.load (local.get $pa)) (local.get $y)))
        (v128.store offset=16 (local.get $po) (f32x4.sub (v128.load offset=16 (local.get $pa)) (local.get $y)))
        (v128.store offset=32 (local.get $po) (f32x4.sub (v128.load offset=32 (local.get $pa)) (local.get $y)))
        (v128.store offset=48 (local.get $po) (f32x4.sub (v128.load offset=48 (local.get $pa)) (local.get $y)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.mul (v128.load (local.get $pa)) (local.get $y)))
        (v128.store offset=16 (local.get $po) (f32x4.mul (v128.load offset=16 (local.get $pa)) (local.get $y)))
        (v128.store offset=32 (local.get $po) (f32x4.mul (v128.load offset=32 (local.get $pa)) (local.get $y)))
        (v128.store offset=48 (local.get $po) (f32x4.mul (v128.load offset=48 (local.get $pa)) (local.get $y)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64)))
        (br $next)))
      (return))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $pa) (local.get $end)))
        (v128.store (local.get $po) (f32x4.sub (local.get $y) (v128.load (local.get $pa))))
        (v128.store offset=16 (local.get $po) (f32x4.sub (local.get $y) (v128.load offset=16 (local.get $pa))))
        (v128.store offset=32 (local.get $po) (f32x4.sub (local.get $y) (v128.load offset=32 (local.get $pa))))
        (v128.store offset=48 (local.get $po) (f32x4.sub (local.get $y) (v128.load offset=48 (local.get $pa))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 64))) (local.set $po (i32.add (local.get $po) (i32.const 64)))
        (br $next)))
      (return))

  ;; Add, subtract, multiply (elementwise-kernels.ts), four values at a time: out[r·cols + j] = a[r·cols + j] op b[j]
  ;; for r < rows, j < cols; `b` is one row (a bias, or the whole other operand when the shapes are equal).
  ;; op 0: a + b, 1: a − b, 2: a · b, 3: b − a. One float32 operation per value, as TensorFlow.js's kernels.
  (func (export "binaryRows") (param $op i32) (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $j i32) (local $quads i32) (local $bytes i32) (local $blocks i32) (local $x v128) (local $y v128) (local $s f32) (local $t f32)
    (local.set $bytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $quads (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (local.set $r (i32.const 0))
    (local.set $blocks (i32.and (local.get $bytes) (i32.const -64)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (call $rowBlocks (local.get $op) (local.get $a) (local.get $b) (local.get $out) (i32.add (local.get $a) (local.get $blocks)))
      (local.set $j (local.get $blocks)) ;; the last 0-15 values as before
      (block $done (loop $quad
        (br_if $done (i32.ge_u (local.get $j) (local.get $quads)))
        (local.set $x (v128.load (i32.add (local.get $a) (local.get $j))))
        (local.set $y (v128.load (i32.add (local.get $b) (local.get $j))))
        (v128.store (i32.add (local.get $out) (local.get $j))
          (if (result v128) (i32.eqz (local.get $op)) (then (f32x4.add (local.get $x) (local.get $y)))
            (else (if (result v128) (i32.eq (local.get $op) (i32.const 1)) (then (f32x4.sub (local.get $x) (local.get $y)))
              (else (if (result v128) (i32.eq (local.get $op) (i32.const 2)) (then (f32x4.mul (local.get $x) (local.get $y)))
                (else (f32x4.sub (local.get $y) (local.get $x)))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $quad)))
      (block $done (loop $one
        (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $s (f32.load (i32.add (local.get $a) (local.get $j))))
        (local.set $t (f32.load (i32.add (local.get $b) (local.get $j))))
        (f32.store (i32.add (local.get $out) (local.get $j))
          (if (result f32) (i32.eqz (local.get $op)) (then (f32.add (local.get $s) (local.get $t)))
            (else (if (result f32) (i32.eq (local.get $op) (i32.const 1)) (then (f32.sub (local.get $s) (local.get $t)))
              (else (if (result f32) (i32.eq (local.get $op) (i32.const 2)) (then (f32.mul (local.get $s) (local.get $t)))
                (else (f32.sub (local.get $t) (local.get $s)))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $one)))
      (local.set $a (i32.add (local.get $a) (local.get $bytes)))
      (local.set $out (i32.add (local.get $out) (local.get $bytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; The same with one value for b (a scalar): out[i] = a[i] op s for i < count.
  (func (export "binaryScalar") (param $op i32) (param $a i32) (param $s f32) (param $out i32) (param $count i32)
    (local $i i32) (local $quads i32) (local $bytes i32) (local $x v128) (local $y v128) (local $v f32)
    (local.set $y (f32x4.splat (local.get $s)))
    (local.set $bytes (i32.shl (local.get $count) (i32.const 2)))
    (local.set $quads (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.and (local.get $bytes) (i32.const -64)))
    (call $scalarBlocks (local.get $op) (local.get $a) (local.get $y) (local.get $out) (i32.add (local.get $a) (local.get $i)))
    (block $done (loop $quad ;; the last 0-15 values as before
      (br_if $done (i32.ge_u (local.get $i) (local.get $quads)))
      (local.set $x (v128.load (i32.add (local.get $a) (local.get $i))))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (if (result v128) (i32.eqz (local.get $op)) (then (f32x4.add (local.get $x) (local.get $y)))
          (else (if (result v128) (i32.eq (local.get $op) (i32.const 1)) (then (f32x4.sub (local.get $x) (local.get $y)))
            (else (if (result v128) (i32.eq (local.get $op) (i32.const 2)) (then (f32x4.mul (local.get $x) (local.get $y)))
              (else (f32x4.sub (local.get $y) (local.get $x)))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $quad)))
    (block $done (loop $one
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $v (f32.load (i32.add (local.get $a) (local.get $i))))
      (f32.store (i32.add (local.get $out) (local.get $i))
        (if (result f32) (i32.eqz (local.get $op)) (then (f32.add (local.get $v) (local.get $s)))
          (else (if (result f32) (i32.eq (local.get $op) (i32.const 1)) (then (f32.sub (local.get $v) (local.get $s)))
            (else (if (result f32) (i32.eq (local.get $op) (i32.const 2)) (then (f32.mul (local.get $v) (local.get $s)))
              (else (f32.sub (local.get $s) (local.get $v)))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $one))))

  ;; exp of four values (softmaxRows): 2^k · e^r with k = round(x·log2 e) and r = x − k·ln 2 (ln 2 in two parts, the
  ;; first exact in a few bits, so that r loses almost nothing), e^r by Cephes' polynomial for expf. Within 1 float32
  ;; ulp of exp on 100,000 points of [−87.3, 0]. Below −87.33 (where e^x leaves float32's normal range) it gives 0;
  ;; NaN stays NaN.
  (func $exp4 (param $x v128) (result v128)
    (local $k v128) (local $r v128) (local $y v128) (local $tiny v128)
    (local.set $tiny (f32x4.lt (local.get $x) (v128.const f32x4 -87.33 -87.33 -87.33 -87.33)))
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.33 -87.33 -87.33 -87.33)) (v128.const f32x4 88.37 88.37 88.37 88.37)))
    (local.set $k (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $k) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $k) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $y (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (local.get $y) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (local.set $y (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $k)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (v128.bitselect (v128.const f32x4 0 0 0 0) (local.get $y) (local.get $tiny)))

  ;; Softmax of each row of x [n, c] into p, for crossEntropy's kernel (loss-kernels.ts): p[i, j] = e^(x[i, j] − m_i) / s_i,
  ;; with m_i the row's largest value (NaN ignored, as with `>`) and s_i = Σ_j e^(x[i, j] − m_i) summed in float32. m_i goes to
  ;; stats[i] and s_i to stats[n + i]: the loss, m_i + ln s_i − x[i, label], is taken from them in float64. The exponentials
  ;; run four at a time over the whole of p; Math.exp one by one took three quarters of the kernel's 37 µs for [256, 10].
  (func (export "softmaxRows") (param $x i32) (param $p i32) (param $stats i32) (param $n i32) (param $c i32)
    (local $i i32) (local $j i32) (local $row i32) (local $rowEnd i32) (local $end i32) (local $max f32) (local $sum f32) (local $v f32)
    (local.set $end (i32.shl (i32.mul (local.get $n) (local.get $c)) (i32.const 2)))
    ;; each row's largest value, and x − max into p
    (local.set $row (i32.const 0))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $rowEnd (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $max (f32.const -inf))
      (local.set $j (local.get $row))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowEnd)))
        (local.set $v (f32.load (i32.add (local.get $x) (local.get $j))))
        (if (f32.gt (local.get $v) (local.get $max)) (then (local.set $max (local.get $v))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next)))
      (f32.store (i32.add (local.get $stats) (i32.shl (local.get $i) (i32.const 2))) (local.get $max))
      (local.set $j (local.get $row))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowEnd)))
        (f32.store (i32.add (local.get $p) (local.get $j)) (f32.sub (f32.load (i32.add (local.get $x) (local.get $j))) (local.get $max)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next)))
      (local.set $row (local.get $rowEnd))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows)))
    ;; the exponentials, four at a time; the last 0-3 one by one through the same code
    (local.set $j (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $j) (i32.const 16)) (local.get $end)))
      (v128.store (i32.add (local.get $p) (local.get $j)) (call $exp4 (v128.load (i32.add (local.get $p) (local.get $j)))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $next)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (f32.store (i32.add (local.get $p) (local.get $j))
        (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (f32.load (i32.add (local.get $p) (local.get $j)))))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $next)))
    ;; each row's sum, and the division
    (local.set $i (i32.const 0))
    (local.set $row (i32.const 0))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $rowEnd (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $sum (f32.const 0))
      (local.set $j (local.get $row))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowEnd)))
        (local.set $sum (f32.add (local.get $sum) (f32.load (i32.add (local.get $p) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next)))
      (f32.store (i32.add (local.get $stats) (i32.shl (i32.add (local.get $n) (local.get $i)) (i32.const 2))) (local.get $sum))
      (local.set $j (local.get $row))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowEnd)))
        (f32.store (i32.add (local.get $p) (local.get $j)) (f32.div (f32.load (i32.add (local.get $p) (local.get $j))) (local.get $sum)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next)))
      (local.set $row (local.get $rowEnd))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rows))))

  ;; Copies `rows` rows of `bytes` bytes from src (rows srcStride bytes apart) to dst (dstStride apart); with
  ;; `zeroRest` set, fills the rest of each dst row with zeros. For products computed on a wider matrix (blas-conv.ts).
  (func (export "copyRows") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $rows i32) (param $bytes i32) (param $zeroRest i32)
    (local $r i32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (call $copy (local.get $dst) (local.get $src) (local.get $bytes))
      (if (local.get $zeroRest) (then
        (call $zero (i32.add (local.get $dst) (local.get $bytes)) (i32.sub (local.get $dstStride) (local.get $bytes)))))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; Gather whole rows (copies.ts): out row i = x row idx[i], for i < count; idx holds int32 row numbers that
  ;; the caller has checked (firstBadRow). One call for the batch instead of one per row from JavaScript.
  ;; Rows from a large array come from memory in random order, and one row after another leaves the memory
  ;; system waiting on each row's first lines. So `group` rows (8 or 4) are copied side by side, 64 bytes of
  ;; each in turn: 8 streams in flight instead of one. A batch of 256 rows of 3,136 bytes from 39 MB took
  ;; 86-127 µs one row at a time and 77-89 µs so; rows of 64 KB were slower so, hence group 1 for them.
  ;; Rows of 4 bytes (labels) are single loads and stores.
  (func (export "gatherRows") (param $x i32) (param $idx i32) (param $out i32) (param $count i32) (param $rowBytes i32) (param $group i32)
    (local $i i32) (local $j i32) (local $o i32) (local $src i32) (local $dst i32) (local $full i32) (local $end i32)
    (if (i32.eq (local.get $rowBytes) (i32.const 4)) (then
      (local.set $end (i32.add (local.get $idx) (i32.shl (local.get $count) (i32.const 2))))
      (block $wDone (loop $word
        (br_if $wDone (i32.ge_u (local.get $idx) (local.get $end)))
        (i32.store (local.get $out) (i32.load (i32.add (local.get $x) (i32.shl (i32.load (local.get $idx)) (i32.const 2)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $idx (i32.add (local.get $idx) (i32.const 4)))
        (br $word)))
      (return)))
    (local.set $full (i32.and (local.get $rowBytes) (i32.const -64)))
    (if (i32.or (i32.lt_u (local.get $group) (i32.const 2)) (i32.eqz (local.get $full))) (then (local.set $group (i32.const 1))))
    ;; whole groups, side by side, 64 bytes per row per turn
    (if (i32.gt_u (local.get $group) (i32.const 1)) (then
      (block $gDone (loop $grp
        (br_if $gDone (i32.gt_u (i32.add (local.get $i) (local.get $group)) (local.get $count)))
        (local.set $o (i32.const 0))
        (block $cDone (loop $chunk
          (br_if $cDone (i32.ge_u (local.get $o) (local.get $full)))
          (local.set $j (local.get $i))
          (local.set $end (i32.add (local.get $i) (local.get $group)))
          (block $jDone (loop $row
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $end)))
            (local.set $src (i32.add (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))) (local.get $rowBytes))) (local.get $o)))
            (local.set $dst (i32.add (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $rowBytes))) (local.get $o)))
            (v128.store (local.get $dst) (v128.load (local.get $src)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
            (v128.store offset=32 (local.get $dst) (v128.load offset=32 (local.get $src)))
            (v128.store offset=48 (local.get $dst) (v128.load offset=48 (local.get $src)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $row)))
          (local.set $o (i32.add (local.get $o) (i32.const 64)))
          (br $chunk)))
        ;; each row's last rowBytes mod 64 bytes
        (if (i32.ne (local.get $full) (local.get $rowBytes)) (then
          (local.set $j (local.get $i))
          (block $tDone (loop $tail
            (br_if $tDone (i32.ge_u (local.get $j) (local.get $end)))
            (call $copy
              (i32.add (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $rowBytes))) (local.get $full))
              (i32.add (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))) (local.get $rowBytes))) (local.get $full))
              (i32.sub (local.get $rowBytes) (local.get $full)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))))
        (local.set $i (i32.add (local.get $i) (local.get $group)))
        (br $grp)))))
    ;; the rest one row at a time
    (block $done (loop $one
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (call $copy
        (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $rowBytes)))
        (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2)))) (local.get $rowBytes)))
        (local.get $rowBytes))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $one))))

  ;; The position of the first of `count` int32 row numbers at idx that is not in [0, n), or -1 if none is.
  (func (export "firstBadRow") (param $idx i32) (param $count i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      ;; unsigned: a negative row number is above every n
      (if (i32.ge_u (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2)))) (local.get $n)) (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const -1))

  ;; Convolutions of one input channel (an image's first layer, conv2d of [n, h, w, 1]), any stride and padding,
  ;; `co` 4, 8, 12 or 16: out[b, oy, ox, c] = bias[c] + Σ x[b, oy·sh − top + ky, ox·sw − left + kx] · f[ky, kx, 0, c]
  ;; over the taps inside the image (bias 0: none), all output channels of a pixel at once. The im2col matrix
  ;; would copy each pixel kh·kw times in runs of a single value, which costs more than this whole loop.
  ;; Up to 12 channels, two neighbouring pixels whose windows lie inside go through each pass together: one
  ;; pixel's sums are one chain of additions per four channels, each waiting on the last, and two pixels double
  ;; the chains in flight (each pixel's sums in the same order as alone). Measured in one process against the
  ;; one-pixel loop: 256x28x28 to 8 channels at stride 2 477 -> 408 µs, 32x128x128 to 4 at stride 1 4,460 ->
  ;; 3,200 µs; with 16 channels (four chains already) it gained nothing.
  (func (export "conv1Direct")
    (param $x i32) (param $f i32) (param $bias i32) (param $out i32) (param $n i32) (param $h i32) (param $w i32) (param $oh i32) (param $ow i32)
    (param $sh i32) (param $sw i32) (param $kh i32) (param $kw i32) (param $top i32) (param $left i32) (param $co i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32) (local $iy0 i32) (local $ix0 i32)
    (local $image i32) (local $fp i32) (local $fstep i32) (local $px i32) (local $end i32) (local $kwBytes i32) (local $rowSkip i32)
    (local $xv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xw v128) (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $xstep i32)
    ;; one accumulator per four channels, starting from the bias (when given); one copy of the loops per count
    (if (local.get $bias) (then
      (local.set $b0 (v128.load (local.get $bias)))
      (if (i32.gt_u (local.get $co) (i32.const 4)) (then (local.set $b1 (v128.load offset=16 (local.get $bias)))))
      (if (i32.gt_u (local.get $co) (i32.const 8)) (then (local.set $b2 (v128.load offset=32 (local.get $bias)))))
      (if (i32.gt_u (local.get $co) (i32.const 12)) (then (local.set $b3 (v128.load offset=48 (local.get $bias)))))))
    (local.set $fstep (i32.shl (local.get $co) (i32.const 2)))
    (local.set $kwBytes (i32.shl (local.get $kw) (i32.const 2)))
    (local.set $rowSkip (i32.shl (i32.sub (local.get $w) (local.get $kw)) (i32.const 2)))
    (local.set $xstep (i32.shl (local.get $sw) (i32.const 2))) ;; from one output pixel's window to the next's
    (if (i32.eq (local.get $co) (i32.const 4)) (then
      ;; 4 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $image (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
          (local.set $ox (i32.const 0))
          (block $oxDone (loop $oxLoop
            (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
            (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
            ;; this pixel and the next, both windows inside the image: two pixels per pass, twice the independent sums
            (if (i32.and (i32.lt_u (i32.add (local.get $ox) (i32.const 1)) (local.get $ow))
                  (i32.and
                    (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                    (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (i32.add (local.get $ix0) (local.get $sw)) (local.get $kw)) (local.get $w)))))
              (then
                (local.set $a0 (local.get $b0)) (local.set $c0 (local.get $b0))
                (local.set $fp (local.get $f))
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyPair
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxPair
                    (local.set $xv (v128.load32_splat (local.get $px)))
                    (local.set $xw (v128.load32_splat (i32.add (local.get $px) (local.get $xstep))))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (v128.load offset=0 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxPair (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyPair (i32.lt_u (local.get $ky) (local.get $kh))))
              (v128.store offset=0 (local.get $out) (local.get $a0))
              (v128.store offset=0 (i32.add (local.get $out) (local.get $fstep)) (local.get $c0))
              (local.set $out (i32.add (local.get $out) (i32.shl (local.get $fstep) (i32.const 1))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 2)))
              (br $oxLoop)))
            (local.set $a0 (local.get $b0))
            (local.set $fp (local.get $f))
            (if (i32.and
                  (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                  (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w))))
              (then ;; the window lies inside the image: no check per tap
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyIn
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxIn
                    (local.set $xv (v128.load32_splat (local.get $px)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxIn (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyIn (i32.lt_u (local.get $ky) (local.get $kh)))))
              (else ;; near an edge: only the taps inside
                (local.set $ky (i32.const 0))
                (block $kyDone (loop $kyLoop
                  (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                  (local.set $iy (i32.add (local.get $iy0) (local.get $ky)))
                  (local.set $kx (i32.const 0))
                  (block $kxDone (loop $kxLoop
                    (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                    (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                    (if (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (local.get $ix) (local.get $w))) (then
                      (local.set $xv (v128.load32_splat (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (i32.const 2)))))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                    (br $kxLoop)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br $kyLoop)))))
          (v128.store offset=0 (local.get $out) (local.get $a0))
            (local.set $out (i32.add (local.get $out) (local.get $fstep)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $oxLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
      (return)))
    (if (i32.eq (local.get $co) (i32.const 8)) (then
      ;; 8 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $image (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
          (local.set $ox (i32.const 0))
          (block $oxDone (loop $oxLoop
            (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
            (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
            ;; this pixel and the next, both windows inside the image: two pixels per pass, twice the independent sums
            (if (i32.and (i32.lt_u (i32.add (local.get $ox) (i32.const 1)) (local.get $ow))
                  (i32.and
                    (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                    (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (i32.add (local.get $ix0) (local.get $sw)) (local.get $kw)) (local.get $w)))))
              (then
                (local.set $a0 (local.get $b0)) (local.set $c0 (local.get $b0)) (local.set $a1 (local.get $b1)) (local.set $c1 (local.get $b1))
                (local.set $fp (local.get $f))
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyPair
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxPair
                    (local.set $xv (v128.load32_splat (local.get $px)))
                    (local.set $xw (v128.load32_splat (i32.add (local.get $px) (local.get $xstep))))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (v128.load offset=0 (local.get $fp)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                    (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xw) (v128.load offset=16 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxPair (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyPair (i32.lt_u (local.get $ky) (local.get $kh))))
              (v128.store offset=0 (local.get $out) (local.get $a0))
              (v128.store offset=16 (local.get $out) (local.get $a1))
              (v128.store offset=0 (i32.add (local.get $out) (local.get $fstep)) (local.get $c0))
              (v128.store offset=16 (i32.add (local.get $out) (local.get $fstep)) (local.get $c1))
              (local.set $out (i32.add (local.get $out) (i32.shl (local.get $fstep) (i32.const 1))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 2)))
              (br $oxLoop)))
            (local.set $a0 (local.get $b0)) (local.set $a1 (local.get $b1))
            (local.set $fp (local.get $f))
            (if (i32.and
                  (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                  (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w))))
              (then ;; the window lies inside the image: no check per tap
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyIn
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxIn
                    (local.set $xv (v128.load32_splat (local.get $px)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxIn (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyIn (i32.lt_u (local.get $ky) (local.get $kh)))))
              (else ;; near an edge: only the taps inside
                (local.set $ky (i32.const 0))
                (block $kyDone (loop $kyLoop
                  (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                  (local.set $iy (i32.add (local.get $iy0) (local.get $ky)))
                  (local.set $kx (i32.const 0))
                  (block $kxDone (loop $kxLoop
                    (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                    (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                    (if (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (local.get $ix) (local.get $w))) (then
                      (local.set $xv (v128.load32_splat (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (i32.const 2)))))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                    (br $kxLoop)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br $kyLoop)))))
          (v128.store offset=0 (local.get $out) (local.get $a0))
          (v128.store offset=16 (local.get $out) (local.get $a1))
            (local.set $out (i32.add (local.get $out) (local.get $fstep)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $oxLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
      (return)))
    (if (i32.eq (local.get $co) (i32.const 12)) (then
      ;; 12 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $image (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
          (local.set $ox (i32.const 0))
          (block $oxDone (loop $oxLoop
            (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
            (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
            ;; this pixel and the next, both windows inside the image: two pixels per pass, twice the independent sums
            (if (i32.and (i32.lt_u (i32.add (local.get $ox) (i32.const 1)) (local.get $ow))
                  (i32.and
                    (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                    (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (i32.add (local.get $ix0) (local.get $sw)) (local.get $kw)) (local.get $w)))))
              (then
                (local.set $a0 (local.get $b0)) (local.set $c0 (local.get $b0)) (local.set $a1 (local.get $b1)) (local.set $c1 (local.get $b1)) (local.set $a2 (local.get $b2)) (local.set $c2 (local.get $b2))
                (local.set $fp (local.get $f))
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyPair
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxPair
                    (local.set $xv (v128.load32_splat (local.get $px)))
                    (local.set $xw (v128.load32_splat (i32.add (local.get $px) (local.get $xstep))))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (v128.load offset=0 (local.get $fp)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                    (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xw) (v128.load offset=16 (local.get $fp)))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $fp)))))
                    (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xw) (v128.load offset=32 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxPair (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyPair (i32.lt_u (local.get $ky) (local.get $kh))))
              (v128.store offset=0 (local.get $out) (local.get $a0))
              (v128.store offset=16 (local.get $out) (local.get $a1))
              (v128.store offset=32 (local.get $out) (local.get $a2))
              (v128.store offset=0 (i32.add (local.get $out) (local.get $fstep)) (local.get $c0))
              (v128.store offset=16 (i32.add (local.get $out) (local.get $fstep)) (local.get $c1))
              (v128.store offset=32 (i32.add (local.get $out) (local.get $fstep)) (local.get $c2))
              (local.set $out (i32.add (local.get $out) (i32.shl (local.get $fstep) (i32.const 1))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 2)))
              (br $oxLoop)))
            (local.set $a0 (local.get $b0)) (local.set $a1 (local.get $b1)) (local.set $a2 (local.get $b2))
            (local.set $fp (local.get $f))
            (if (i32.and
                  (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                  (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w))))
              (then ;; the window lies inside the image: no check per tap
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyIn
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxIn
                    (local.set $xv (v128.load32_splat (local.get $px)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxIn (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyIn (i32.lt_u (local.get $ky) (local.get $kh)))))
              (else ;; near an edge: only the taps inside
                (local.set $ky (i32.const 0))
                (block $kyDone (loop $kyLoop
                  (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                  (local.set $iy (i32.add (local.get $iy0) (local.get $ky)))
                  (local.set $kx (i32.const 0))
                  (block $kxDone (loop $kxLoop
                    (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                    (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                    (if (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (local.get $ix) (local.get $w))) (then
                      (local.set $xv (v128.load32_splat (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (i32.const 2)))))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $fp)))))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                    (br $kxLoop)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br $kyLoop)))))
          (v128.store offset=0 (local.get $out) (local.get $a0))
          (v128.store offset=16 (local.get $out) (local.get $a1))
          (v128.store offset=32 (local.get $out) (local.get $a2))
            (local.set $out (i32.add (local.get $out) (local.get $fstep)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $oxLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
      (return)))
      ;; 16 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $image (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (i32.const 2))))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
          (local.set $ox (i32.const 0))
          (block $oxDone (loop $oxLoop
            (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
            (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
            (local.set $a0 (local.get $b0)) (local.set $a1 (local.get $b1)) (local.set $a2 (local.get $b2)) (local.set $a3 (local.get $b3))
            (local.set $fp (local.get $f))
            (if (i32.and
                  (i32.and (i32.ge_s (local.get $iy0) (i32.const 0)) (i32.le_s (i32.add (local.get $iy0) (local.get $kh)) (local.get $h)))
                  (i32.and (i32.ge_s (local.get $ix0) (i32.const 0)) (i32.le_s (i32.add (local.get $ix0) (local.get $kw)) (local.get $w))))
              (then ;; the window lies inside the image: no check per tap
                (local.set $px (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy0) (local.get $w)) (local.get $ix0)) (i32.const 2))))
                (local.set $ky (i32.const 0))
                (loop $kyIn
                  (local.set $end (i32.add (local.get $px) (local.get $kwBytes)))
                  (loop $kxIn
                    (local.set $xv (v128.load32_splat (local.get $px)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $fp)))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $fp)))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $px (i32.add (local.get $px) (i32.const 4)))
                    (br_if $kxIn (i32.lt_u (local.get $px) (local.get $end))))
                  (local.set $px (i32.add (local.get $px) (local.get $rowSkip)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br_if $kyIn (i32.lt_u (local.get $ky) (local.get $kh)))))
              (else ;; near an edge: only the taps inside
                (local.set $ky (i32.const 0))
                (block $kyDone (loop $kyLoop
                  (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                  (local.set $iy (i32.add (local.get $iy0) (local.get $ky)))
                  (local.set $kx (i32.const 0))
                  (block $kxDone (loop $kxLoop
                    (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                    (local.set $ix (i32.add (local.get $ix0) (local.get $kx)))
                    (if (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (local.get $ix) (local.get $w))) (then
                      (local.set $xv (v128.load32_splat (i32.add (local.get $image) (i32.shl (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (i32.const 2)))))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $fp)))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $fp)))))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $fp)))))
                      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $fp)))))))
                    (local.set $fp (i32.add (local.get $fp) (local.get $fstep)))
                    (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                    (br $kxLoop)))
                  (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                  (br $kyLoop)))))
          (v128.store offset=0 (local.get $out) (local.get $a0))
          (v128.store offset=16 (local.get $out) (local.get $a1))
          (v128.store offset=32 (local.get $out) (local.get $a2))
          (v128.store offset=48 (local.get $out) (local.get $a3))
            (local.set $out (i32.add (local.get $out) (local.get $fstep)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
            (br $oxLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
  )

  ;; The filter gradient of conv1Direct: out[ky, kx, 0, c] = Σ x[b, oy·sh − top + ky, ox·sw − left + kx] · dy[b, oy, ox, c].
  ;; Each output row's terms are summed in float32, the rows in float64 (in `tot`: kh·kw·co doubles, zeroed here).
  ;; Where window rows ky and ky + 1 both lie inside, their sums run side by side over the same dy: twice the
  ;; chains of additions in flight and half the loads of dy, each sum in the same order as alone. Measured in one
  ;; process against one row at a time: 256x28x28 to 8 channels at stride 2 522-666 -> 372-505 µs, 32x128x128 to
  ;; 4 at stride 1 3,400-4,000 -> 2,500-3,200 µs.
  (func (export "conv1FilterGrad")
    (param $x i32) (param $dy i32) (param $out i32) (param $tot i32) (param $n i32) (param $h i32) (param $w i32) (param $oh i32) (param $ow i32)
    (param $sh i32) (param $sw i32) (param $kh i32) (param $kw i32) (param $top i32) (param $left i32) (param $co i32)
    (local $b i32) (local $oy i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $lo i32) (local $hi i32)
    (local $row i32) (local $drow i32) (local $xp i32) (local $dp i32) (local $end i32) (local $tp i32) (local $i i32) (local $count i32)
    (local $xstep i32) (local $dstep i32) (local $wBytes i32) (local $tq i32)
    (local $xv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $xw v128) (local $dv v128) (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local.set $wBytes (i32.shl (local.get $w) (i32.const 2))) ;; from one input row to the next
    (local.set $count (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $co)))
    (memory.fill (local.get $tot) (i32.const 0) (i32.shl (local.get $count) (i32.const 3)))
    (local.set $xstep (i32.shl (local.get $sw) (i32.const 2)))
    (local.set $dstep (i32.shl (local.get $co) (i32.const 2)))
    (block $sums
      (if (i32.eq (local.get $co) (i32.const 4)) (then
      ;; 4 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $drow (i32.add (local.get $dy) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (local.get $oy)) (local.get $ow)) (local.get $co)) (i32.const 2))))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            ;; rows ky and ky + 1 both inside: their sums side by side, sharing the loads of dy (each row's sums in the
            ;; same order as alone)
            (if (i32.and (i32.lt_u (i32.add (local.get $ky) (i32.const 1)) (local.get $kh))
                  (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (i32.add (local.get $iy) (i32.const 1)) (local.get $h))))
              (then
                (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
                (local.set $kx (i32.const 0))
                (block $kxPairDone (loop $kxPair
                  (br_if $kxPairDone (i32.ge_u (local.get $kx) (local.get $kw)))
                  (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                    (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                  (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                  (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                  (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                  (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                    (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $c0 (f32x4.splat (f32.const 0)))
                    (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                    (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                    (loop $oxPair
                      (local.set $xv (v128.load32_splat (local.get $xp)))
                      (local.set $xw (v128.load32_splat (i32.add (local.get $xp) (local.get $wBytes))))
                      (local.set $dv (v128.load offset=0 (local.get $dp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                      (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                      (br_if $oxPair (i32.lt_u (local.get $dp) (local.get $end))))
                    (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                    (local.set $tq (i32.add (local.get $tp) (i32.shl (i32.mul (local.get $kw) (local.get $co)) (i32.const 3))))
                    (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                    (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                    (v128.store offset=0 (local.get $tq) (f64x2.add (v128.load offset=0 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c0))))
                    (v128.store offset=16 (local.get $tq) (f64x2.add (v128.load offset=16 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c0) (local.get $c0)))))
                    ))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxPair)))
                (local.set $ky (i32.add (local.get $ky) (i32.const 2)))
                (br $kyLoop)))
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
              (local.set $kx (i32.const 0))
              (block $kxDone (loop $kxLoop
                (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                ;; the pixels ox whose tap kx lies inside the row: 0 <= ox·sw − left + kx < w
                (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                  (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                  (local.set $a0 (f32x4.splat (f32.const 0)))
                  (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                  (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                  (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                  (loop $oxLoop
                    (local.set $xv (v128.load32_splat (local.get $xp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                    (br_if $oxLoop (i32.lt_u (local.get $dp) (local.get $end))))
                  ;; tot[ky, kx, 0 .. co − 1] += the row's sums, in float64
                  (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kxLoop)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
        (br $sums)))
      (if (i32.eq (local.get $co) (i32.const 8)) (then
      ;; 8 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $drow (i32.add (local.get $dy) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (local.get $oy)) (local.get $ow)) (local.get $co)) (i32.const 2))))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            ;; rows ky and ky + 1 both inside: their sums side by side, sharing the loads of dy (each row's sums in the
            ;; same order as alone)
            (if (i32.and (i32.lt_u (i32.add (local.get $ky) (i32.const 1)) (local.get $kh))
                  (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (i32.add (local.get $iy) (i32.const 1)) (local.get $h))))
              (then
                (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
                (local.set $kx (i32.const 0))
                (block $kxPairDone (loop $kxPair
                  (br_if $kxPairDone (i32.ge_u (local.get $kx) (local.get $kw)))
                  (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                    (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                  (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                  (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                  (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                  (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                    (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $c0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0))) (local.set $c1 (f32x4.splat (f32.const 0)))
                    (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                    (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                    (loop $oxPair
                      (local.set $xv (v128.load32_splat (local.get $xp)))
                      (local.set $xw (v128.load32_splat (i32.add (local.get $xp) (local.get $wBytes))))
                      (local.set $dv (v128.load offset=0 (local.get $dp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=16 (local.get $dp)))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                      (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                      (br_if $oxPair (i32.lt_u (local.get $dp) (local.get $end))))
                    (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                    (local.set $tq (i32.add (local.get $tp) (i32.shl (i32.mul (local.get $kw) (local.get $co)) (i32.const 3))))
                    (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                    (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                    (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                    (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                    (v128.store offset=0 (local.get $tq) (f64x2.add (v128.load offset=0 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c0))))
                    (v128.store offset=16 (local.get $tq) (f64x2.add (v128.load offset=16 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c0) (local.get $c0)))))
                    (v128.store offset=32 (local.get $tq) (f64x2.add (v128.load offset=32 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c1))))
                    (v128.store offset=48 (local.get $tq) (f64x2.add (v128.load offset=48 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c1) (local.get $c1)))))
                    ))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxPair)))
                (local.set $ky (i32.add (local.get $ky) (i32.const 2)))
                (br $kyLoop)))
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
              (local.set $kx (i32.const 0))
              (block $kxDone (loop $kxLoop
                (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                ;; the pixels ox whose tap kx lies inside the row: 0 <= ox·sw − left + kx < w
                (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                  (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                  (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0)))
                  (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                  (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                  (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                  (loop $oxLoop
                    (local.set $xv (v128.load32_splat (local.get $xp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $dp)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                    (br_if $oxLoop (i32.lt_u (local.get $dp) (local.get $end))))
                  ;; tot[ky, kx, 0 .. co − 1] += the row's sums, in float64
                  (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kxLoop)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
        (br $sums)))
      (if (i32.eq (local.get $co) (i32.const 12)) (then
      ;; 12 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $drow (i32.add (local.get $dy) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (local.get $oy)) (local.get $ow)) (local.get $co)) (i32.const 2))))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            ;; rows ky and ky + 1 both inside: their sums side by side, sharing the loads of dy (each row's sums in the
            ;; same order as alone)
            (if (i32.and (i32.lt_u (i32.add (local.get $ky) (i32.const 1)) (local.get $kh))
                  (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (i32.add (local.get $iy) (i32.const 1)) (local.get $h))))
              (then
                (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
                (local.set $kx (i32.const 0))
                (block $kxPairDone (loop $kxPair
                  (br_if $kxPairDone (i32.ge_u (local.get $kx) (local.get $kw)))
                  (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                    (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                  (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                  (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                  (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                  (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                    (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $c0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0))) (local.set $c1 (f32x4.splat (f32.const 0))) (local.set $a2 (f32x4.splat (f32.const 0))) (local.set $c2 (f32x4.splat (f32.const 0)))
                    (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                    (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                    (loop $oxPair
                      (local.set $xv (v128.load32_splat (local.get $xp)))
                      (local.set $xw (v128.load32_splat (i32.add (local.get $xp) (local.get $wBytes))))
                      (local.set $dv (v128.load offset=0 (local.get $dp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=16 (local.get $dp)))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=32 (local.get $dp)))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                      (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                      (br_if $oxPair (i32.lt_u (local.get $dp) (local.get $end))))
                    (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                    (local.set $tq (i32.add (local.get $tp) (i32.shl (i32.mul (local.get $kw) (local.get $co)) (i32.const 3))))
                    (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                    (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                    (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                    (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                    (v128.store offset=64 (local.get $tp) (f64x2.add (v128.load offset=64 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a2))))
                    (v128.store offset=80 (local.get $tp) (f64x2.add (v128.load offset=80 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))))
                    (v128.store offset=0 (local.get $tq) (f64x2.add (v128.load offset=0 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c0))))
                    (v128.store offset=16 (local.get $tq) (f64x2.add (v128.load offset=16 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c0) (local.get $c0)))))
                    (v128.store offset=32 (local.get $tq) (f64x2.add (v128.load offset=32 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c1))))
                    (v128.store offset=48 (local.get $tq) (f64x2.add (v128.load offset=48 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c1) (local.get $c1)))))
                    (v128.store offset=64 (local.get $tq) (f64x2.add (v128.load offset=64 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c2))))
                    (v128.store offset=80 (local.get $tq) (f64x2.add (v128.load offset=80 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c2) (local.get $c2)))))
                    ))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxPair)))
                (local.set $ky (i32.add (local.get $ky) (i32.const 2)))
                (br $kyLoop)))
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
              (local.set $kx (i32.const 0))
              (block $kxDone (loop $kxLoop
                (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                ;; the pixels ox whose tap kx lies inside the row: 0 <= ox·sw − left + kx < w
                (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                  (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                  (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0))) (local.set $a2 (f32x4.splat (f32.const 0)))
                  (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                  (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                  (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                  (loop $oxLoop
                    (local.set $xv (v128.load32_splat (local.get $xp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $dp)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                    (br_if $oxLoop (i32.lt_u (local.get $dp) (local.get $end))))
                  ;; tot[ky, kx, 0 .. co − 1] += the row's sums, in float64
                  (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                (v128.store offset=64 (local.get $tp) (f64x2.add (v128.load offset=64 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a2))))
                (v128.store offset=80 (local.get $tp) (f64x2.add (v128.load offset=80 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))))))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kxLoop)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
        (br $sums)))
      ;; 16 output channels
      (local.set $b (i32.const 0))
      (block $bDone (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $oy (i32.const 0))
        (block $oyDone (loop $oyLoop
          (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $oh)))
          (local.set $drow (i32.add (local.get $dy) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (local.get $oy)) (local.get $ow)) (local.get $co)) (i32.const 2))))
          (local.set $ky (i32.const 0))
          (block $kyDone (loop $kyLoop
            (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)) (local.get $ky)))
            ;; rows ky and ky + 1 both inside: their sums side by side, sharing the loads of dy (each row's sums in the
            ;; same order as alone)
            (if (i32.and (i32.lt_u (i32.add (local.get $ky) (i32.const 1)) (local.get $kh))
                  (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (i32.add (local.get $iy) (i32.const 1)) (local.get $h))))
              (then
                (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
                (local.set $kx (i32.const 0))
                (block $kxPairDone (loop $kxPair
                  (br_if $kxPairDone (i32.ge_u (local.get $kx) (local.get $kw)))
                  (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                    (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                  (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                  (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                  (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                  (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                    (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $c0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0))) (local.set $c1 (f32x4.splat (f32.const 0))) (local.set $a2 (f32x4.splat (f32.const 0))) (local.set $c2 (f32x4.splat (f32.const 0))) (local.set $a3 (f32x4.splat (f32.const 0))) (local.set $c3 (f32x4.splat (f32.const 0)))
                    (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                    (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                    (loop $oxPair
                      (local.set $xv (v128.load32_splat (local.get $xp)))
                      (local.set $xw (v128.load32_splat (i32.add (local.get $xp) (local.get $wBytes))))
                      (local.set $dv (v128.load offset=0 (local.get $dp)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=16 (local.get $dp)))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=32 (local.get $dp)))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $dv (v128.load offset=48 (local.get $dp)))
                      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (local.get $dv))))
                      (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $xw) (local.get $dv))))
                      (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                      (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                      (br_if $oxPair (i32.lt_u (local.get $dp) (local.get $end))))
                    (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                    (local.set $tq (i32.add (local.get $tp) (i32.shl (i32.mul (local.get $kw) (local.get $co)) (i32.const 3))))
                    (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                    (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                    (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                    (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                    (v128.store offset=64 (local.get $tp) (f64x2.add (v128.load offset=64 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a2))))
                    (v128.store offset=80 (local.get $tp) (f64x2.add (v128.load offset=80 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))))
                    (v128.store offset=96 (local.get $tp) (f64x2.add (v128.load offset=96 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a3))))
                    (v128.store offset=112 (local.get $tp) (f64x2.add (v128.load offset=112 (local.get $tp))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a3) (local.get $a3)))))
                    (v128.store offset=0 (local.get $tq) (f64x2.add (v128.load offset=0 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c0))))
                    (v128.store offset=16 (local.get $tq) (f64x2.add (v128.load offset=16 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c0) (local.get $c0)))))
                    (v128.store offset=32 (local.get $tq) (f64x2.add (v128.load offset=32 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c1))))
                    (v128.store offset=48 (local.get $tq) (f64x2.add (v128.load offset=48 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c1) (local.get $c1)))))
                    (v128.store offset=64 (local.get $tq) (f64x2.add (v128.load offset=64 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c2))))
                    (v128.store offset=80 (local.get $tq) (f64x2.add (v128.load offset=80 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c2) (local.get $c2)))))
                    (v128.store offset=96 (local.get $tq) (f64x2.add (v128.load offset=96 (local.get $tq)) (f64x2.promote_low_f32x4 (local.get $c3))))
                    (v128.store offset=112 (local.get $tq) (f64x2.add (v128.load offset=112 (local.get $tq))
                      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c3) (local.get $c3)))))
                    ))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxPair)))
                (local.set $ky (i32.add (local.get $ky) (i32.const 2)))
                (br $kyLoop)))
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $iy)) (local.get $w)) (i32.const 2))))
              (local.set $kx (i32.const 0))
              (block $kxDone (loop $kxLoop
                (br_if $kxDone (i32.ge_u (local.get $kx) (local.get $kw)))
                ;; the pixels ox whose tap kx lies inside the row: 0 <= ox·sw − left + kx < w
                (local.set $lo (select (i32.div_u (i32.add (i32.sub (local.get $left) (local.get $kx)) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
                  (i32.const 0) (i32.gt_s (i32.sub (local.get $left) (local.get $kx)) (i32.const 0))))
                (local.set $hi (i32.add (i32.sub (local.get $w) (i32.const 1)) (i32.sub (local.get $left) (local.get $kx))))
                (local.set $hi (select (i32.add (i32.div_u (local.get $hi) (local.get $sw)) (i32.const 1)) (i32.const 0) (i32.ge_s (local.get $hi) (i32.const 0))))
                (if (i32.gt_s (local.get $hi) (local.get $ow)) (then (local.set $hi (local.get $ow))))
                (if (i32.lt_s (local.get $lo) (local.get $hi)) (then
                  (local.set $a0 (f32x4.splat (f32.const 0))) (local.set $a1 (f32x4.splat (f32.const 0))) (local.set $a2 (f32x4.splat (f32.const 0))) (local.set $a3 (f32x4.splat (f32.const 0)))
                  (local.set $xp (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (i32.mul (local.get $lo) (local.get $sw)) (local.get $left)) (local.get $kx)) (i32.const 2))))
                  (local.set $dp (i32.add (local.get $drow) (i32.mul (local.get $lo) (local.get $dstep))))
                  (local.set $end (i32.add (local.get $drow) (i32.mul (local.get $hi) (local.get $dstep))))
                  (loop $oxLoop
                    (local.set $xv (v128.load32_splat (local.get $xp)))
                    (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load offset=0 (local.get $dp)))))
                    (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                    (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $dp)))))
                    (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $dp)))))
                    (local.set $xp (i32.add (local.get $xp) (local.get $xstep)))
                    (local.set $dp (i32.add (local.get $dp) (local.get $dstep)))
                    (br_if $oxLoop (i32.lt_u (local.get $dp) (local.get $end))))
                  ;; tot[ky, kx, 0 .. co − 1] += the row's sums, in float64
                  (local.set $tp (i32.add (local.get $tot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $kw)) (local.get $kx)) (local.get $co)) (i32.const 3))))
                (v128.store offset=0 (local.get $tp) (f64x2.add (v128.load offset=0 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a0))))
                (v128.store offset=16 (local.get $tp) (f64x2.add (v128.load offset=16 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0)))))
                (v128.store offset=32 (local.get $tp) (f64x2.add (v128.load offset=32 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a1))))
                (v128.store offset=48 (local.get $tp) (f64x2.add (v128.load offset=48 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a1) (local.get $a1)))))
                (v128.store offset=64 (local.get $tp) (f64x2.add (v128.load offset=64 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a2))))
                (v128.store offset=80 (local.get $tp) (f64x2.add (v128.load offset=80 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))))
                (v128.store offset=96 (local.get $tp) (f64x2.add (v128.load offset=96 (local.get $tp)) (f64x2.promote_low_f32x4 (local.get $a3))))
                (v128.store offset=112 (local.get $tp) (f64x2.add (v128.load offset=112 (local.get $tp))
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a3) (local.get $a3)))))))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kxLoop)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
          (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))
)
    (local.set $i (i32.const 0))
    (block $done (loop $copyOut
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (f32.demote_f64 (f64.load (i32.add (local.get $tot) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copyOut))))
)
