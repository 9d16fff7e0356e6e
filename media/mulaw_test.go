package media

import (
	"encoding/binary"
	"math"
	"testing"
)

// The Sun Microsystems g711.c reference, written out as published
// (segment search, 14-bit magnitude), to check the tables against.
var refSegUEnd = [8]int16{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}

func refLinear2ulaw(pcm int16) byte {
	const bias, clip = 0x84, 8159
	var mask int16
	pcm >>= 2
	if pcm < 0 {
		pcm = -pcm
		mask = 0x7F
	} else {
		mask = 0xFF
	}
	if pcm > clip {
		pcm = clip
	}
	pcm += bias >> 2
	seg := 0
	for seg < 8 && pcm > refSegUEnd[seg] {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	uval := int16(seg<<4) | (pcm>>(seg+1))&0xF
	return byte(uval ^ mask)
}

func refUlaw2linear(u byte) int16 {
	const bias = 0x84
	u = ^u
	t := (int16(u&0x0F) << 3) + bias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return bias - t
	}
	return t - bias
}

func TestMulawReferenceValues(t *testing.T) {
	enc := []struct {
		give int16
		want byte
	}{
		{0, 0xFF}, {-1, 0x7E}, {1, 0xFF}, {4, 0xFE}, {-4, 0x7E}, {-5, 0x7E},
		{32767, 0x80}, {-32768, 0x00}, {32124, 0x80}, {-32124, 0x00},
		{1000, 0xCE}, {-1000, 0x4E}, {8031, 0xA0},
	}
	for _, tt := range enc {
		if got := MulawEncode(tt.give); got != tt.want {
			t.Errorf("MulawEncode(%d) = %#02x, want %#02x", tt.give, got, tt.want)
		}
	}
	dec := []struct {
		give byte
		want int16
	}{
		{0x00, -32124}, {0x80, 32124}, {0xFF, 0}, {0x7F, 0}, {0x7E, -8}, {0xFE, 8},
		{0xCE, 988}, {0x4E, -988}, {0xA0, 7932},
	}
	for _, tt := range dec {
		if got := MulawDecode(tt.give); got != tt.want {
			t.Errorf("MulawDecode(%#02x) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestMulawMatchesReferenceEverywhere(t *testing.T) {
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		if got, want := MulawEncode(int16(i)), refLinear2ulaw(int16(i)); got != want {
			t.Fatalf("MulawEncode(%d) = %#02x, reference %#02x", i, got, want)
		}
	}
	for u := range 256 {
		if got, want := MulawDecode(byte(u)), refUlaw2linear(byte(u)); got != want {
			t.Fatalf("MulawDecode(%#02x) = %d, reference %d", u, got, want)
		}
		// Decoding then encoding is the identity, except for the two
		// codes of zero (0x7F is "negative zero").
		if u != 0x7F {
			if got := MulawEncode(MulawDecode(byte(u))); got != byte(u) {
				t.Fatalf("MulawEncode(MulawDecode(%#02x)) = %#02x", u, got)
			}
		}
	}
}

// ulawBound is the largest round-trip error G.711 allows for x encoded as
// code: half a quantization step of the code's segment (steps double from
// 8 to 1024 in the 16-bit scale) plus the 2 bits the 14-bit encoder drops,
// or the clipping above the top decision level (±32124).
func ulawBound(x int, code byte) int {
	seg := (^code >> 4) & 7
	b := (4 << seg) + 4
	if x > 32124 {
		b = max(b, x-32124)
	}
	if x < -32124 {
		b = max(b, -32124-x)
	}
	return b
}

func TestMulawRoundTripErrorBound(t *testing.T) {
	worst := 0
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		code := MulawEncode(int16(i))
		got := int(MulawDecode(code))
		err := got - i
		if err < 0 {
			err = -err
		}
		if err > ulawBound(i, code) {
			t.Fatalf("round trip of %d gives %d: error %d over bound %d", i, got, err, ulawBound(i, code))
		}
		if (got < 0) != (i < 0) && got != 0 {
			t.Fatalf("round trip of %d changed its sign: %d", i, got)
		}
		worst = max(worst, err)
	}
	if worst != 644 { // -32768 clips to -32124
		t.Fatalf("worst round-trip error %d", worst)
	}
}

func TestAppendMulawAndL16(t *testing.T) {
	pcm := make([]byte, 0, 7)
	for _, s := range []int16{0, 1000, -1000, 32767, -32768} {
		pcm = binary.LittleEndian.AppendUint16(pcm, uint16(s))
	}
	pcm = append(pcm, 0x55) // odd trailing byte: ignored
	tests := []struct {
		give []byte
		want []byte
	}{
		{give: nil, want: []byte{}},
		{give: pcm, want: []byte{0xFF, 0xCE, 0x4E, 0x80, 0x00}},
	}
	for _, tt := range tests {
		got := AppendMulaw([]byte{}, tt.give)
		if string(got) != string(tt.want) {
			t.Errorf("AppendMulaw = % x, want % x", got, tt.want)
		}
		back := AppendL16([]byte{0xAA}, got)
		if back[0] != 0xAA || len(back) != 1+2*len(got) {
			t.Fatalf("AppendL16 lost the prefix or has length %d", len(back))
		}
		for i, u := range got {
			if s := int16(binary.LittleEndian.Uint16(back[1+2*i:])); s != MulawDecode(u) {
				t.Errorf("sample %d: %d, want %d", i, s, MulawDecode(u))
			}
		}
	}
}

func BenchmarkMulawEncodeFrame(b *testing.B) {
	pcm := tone(440, 8000, 160) // one 20 ms frame at 8 kHz
	dst := make([]byte, 0, 160)
	b.SetBytes(int64(len(pcm)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendMulaw(dst[:0], pcm)
	}
}

func BenchmarkMulawDecodeFrame(b *testing.B) {
	ulaw := AppendMulaw(nil, tone(440, 8000, 160))
	dst := make([]byte, 0, 320)
	b.SetBytes(int64(len(ulaw)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendL16(dst[:0], ulaw)
	}
}

// tone returns n samples of a sine at hz as little-endian L16.
func tone(hz float64, rate, n int) []byte {
	b := make([]byte, 0, 2*n)
	for i := range n {
		s := int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}
