package media

import "math/bits"

// G.711 μ-law (ITU-T G.711), the audio of Twilio Media Streams.
//
// μ-law quantizes a 14-bit magnitude, so the encoder looks only at the top
// 14 bits of a sample: a 16 KiB table indexed by uint16(s)>>2 covers every
// int16. The decoder is a 256-entry table.

// ulawClip is the largest 14-bit magnitude before the bias is added.
const ulawClip = 8159

// ulawEnc and ulawDec are read-only tables computed from pure code.
var (
	ulawEnc = buildULawEnc()
	ulawDec = buildULawDec()
)

func buildULawEnc() *[1 << 14]byte {
	var t [1 << 14]byte
	for i := range t {
		// i is the top 14 bits of a sample: sign-extend them back.
		t[i] = encodeULaw14(int32(int16(uint16(i)<<2)) >> 2)
	}
	return &t
}

// encodeULaw14 encodes a 14-bit two's complement sample.
func encodeULaw14(v int32) byte {
	mask := byte(0xFF)
	if v < 0 {
		v, mask = -v, 0x7F
	}
	v = min(v, ulawClip) + 33 // bias 0x84 at 14 bits
	// v is in [33, 8192]; its bit length picks the segment: 6 bits is
	// segment 0, 13 bits segment 7, 8192 overflows to the maximum code.
	seg := bits.Len32(uint32(v)) - 6
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return (byte(seg)<<4 | byte(v>>(seg+1))&0x0F) ^ mask
}

func buildULawDec() *[256]int16 {
	var t [256]int16
	for i := range t {
		u := ^byte(i)
		mag := (int32(u&0x0F)<<3 + 0x84) << ((u >> 4) & 7)
		if u&0x80 != 0 {
			t[i] = int16(0x84 - mag)
		} else {
			t[i] = int16(mag - 0x84)
		}
	}
	return &t
}

// MulawEncode encodes one L16 sample.
func MulawEncode(s int16) byte { return ulawEnc[uint16(s)>>2] }

// MulawDecode decodes one μ-law byte.
func MulawDecode(u byte) int16 { return ulawDec[u] }

// AppendMulaw appends the μ-law encoding of the little-endian L16 samples
// in pcm to dst. An odd trailing byte is ignored.
func AppendMulaw(dst, pcm []byte) []byte {
	n := len(pcm) / 2
	dst = growBytes(dst, n)
	out := dst[len(dst)-n:]
	for i := range out {
		out[i] = ulawEnc[(uint16(pcm[2*i])|uint16(pcm[2*i+1])<<8)>>2]
	}
	return dst
}

// AppendL16 appends the decoded samples of ulaw to dst as little-endian
// L16, two bytes per input byte.
func AppendL16(dst, ulaw []byte) []byte {
	dst = growBytes(dst, 2*len(ulaw))
	out := dst[len(dst)-2*len(ulaw):]
	for i, u := range ulaw {
		s := uint16(ulawDec[u])
		out[2*i], out[2*i+1] = byte(s), byte(s>>8)
	}
	return dst
}

// growBytes extends b by n bytes, reallocating at most once.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
