;; Counts the object members of a JSON text: its `:` bytes outside strings. The text must be valid
;; JSON (JSON.parse accepted it), so every `:` outside a string separates a key from its value.
;;
;; It reads UTF-8 bytes 64 at a time, with simdjson's bit tricks (Langdale and Lemire, "Parsing
;; Gigabytes of JSON per Second", 2019): one bit per byte for backslashes, quotes and colons; the
;; escaped bytes from the runs of backslashes; the bytes inside strings as the prefix XOR of the
;; unescaped quotes. Multi-byte UTF-8 sequences never hold an ASCII byte, so they count for nothing.
;;
;; The caller copies the text in, in chunks, into memory at 0, pads each chunk with zero bytes to a
;; multiple of 64, and calls `scan` per chunk after one `reset`; the two globals carry the state
;; from one 64-byte block (and chunk) to the next.
;;
;; scripts/build-json-members.mjs assembles this file (wabt) into json-members.ts.
(module
  (memory (export "memory") 2)
  ;; 1 when the first byte of the next block is escaped by a backslash at the end of this one.
  (global $escapedCarry (mut i64) (i64.const 0))
  ;; All ones when the last byte of the previous block was inside a string, else 0.
  (global $inStringCarry (mut i64) (i64.const 0))

  (func (export "reset")
    (global.set $escapedCarry (i64.const 0))
    (global.set $inStringCarry (i64.const 0)))

  ;; One bit per byte of the 64-byte block v0..v3: set where the byte equals each lane of c.
  (func $mask (param $v0 v128) (param $v1 v128) (param $v2 v128) (param $v3 v128) (param $c v128) (result i64)
    (i64.or
      (i64.or
        (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $v0) (local.get $c))))
        (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $v1) (local.get $c)))) (i64.const 16)))
      (i64.or
        (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $v2) (local.get $c)))) (i64.const 32))
        (i64.shl (i64.extend_i32_u (i8x16.bitmask (i8x16.eq (local.get $v3) (local.get $c)))) (i64.const 48)))))

  ;; The colons outside strings in bytes [0, len) of memory; len is a multiple of 64.
  (func (export "scan") (param $len i32) (result i32)
    (local $p i32) (local $count i64)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $backslash i64) (local $quote i64) (local $colon i64)
    (local $follows i64) (local $oddStarts i64) (local $sum i64) (local $escaped i64) (local $inString i64)
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $p) (local.get $len)))
        (local.set $v0 (v128.load (local.get $p)))
        (local.set $v1 (v128.load offset=16 (local.get $p)))
        (local.set $v2 (v128.load offset=32 (local.get $p)))
        (local.set $v3 (v128.load offset=48 (local.get $p)))
        (local.set $backslash (call $mask (local.get $v0) (local.get $v1) (local.get $v2) (local.get $v3) (i8x16.splat (i32.const 92))))
        (local.set $quote (call $mask (local.get $v0) (local.get $v1) (local.get $v2) (local.get $v3) (i8x16.splat (i32.const 34))))
        (local.set $colon (call $mask (local.get $v0) (local.get $v1) (local.get $v2) (local.get $v3) (i8x16.splat (i32.const 58))))

        ;; Escaped bytes. A backslash escaped from the previous block starts no escape.
        (local.set $backslash (i64.and (local.get $backslash) (i64.xor (global.get $escapedCarry) (i64.const -1))))
        (local.set $follows (i64.or (i64.shl (local.get $backslash) (i64.const 1)) (global.get $escapedCarry)))
        ;; Runs of backslashes that start on an odd bit; adding their starts carries them to their ends.
        (local.set $oddStarts (i64.and (local.get $backslash)
          (i64.and (i64.const 0xAAAAAAAAAAAAAAAA) (i64.xor (local.get $follows) (i64.const -1)))))
        (local.set $sum (i64.add (local.get $oddStarts) (local.get $backslash)))
        (global.set $escapedCarry (i64.extend_i32_u (i64.lt_u (local.get $sum) (local.get $oddStarts))))
        (local.set $escaped (i64.and
          (i64.xor (i64.const 0x5555555555555555) (i64.shl (local.get $sum) (i64.const 1)))
          (local.get $follows)))

        ;; Bytes inside strings: the prefix XOR of the unescaped quotes (an opening quote is inside,
        ;; a closing one is not), continued from the previous block.
        (local.set $inString (i64.and (local.get $quote) (i64.xor (local.get $escaped) (i64.const -1))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 1))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 2))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 4))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 8))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 16))))
        (local.set $inString (i64.xor (local.get $inString) (i64.shl (local.get $inString) (i64.const 32))))
        (local.set $inString (i64.xor (local.get $inString) (global.get $inStringCarry)))
        (global.set $inStringCarry (i64.shr_s (local.get $inString) (i64.const 63)))

        (local.set $count (i64.add (local.get $count)
          (i64.popcnt (i64.and (local.get $colon) (i64.xor (local.get $inString) (i64.const -1))))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $block)))
    (i32.wrap_i64 (local.get $count))))
