package fssim

import "math"

// AudioSource is what the caller says: it fills dst with L16 samples at
// rate, starting at sample offset counted from the first 20 ms frame of
// the stream (frames skipped while the stream is paused still count, as
// the caller goes on talking).
type AudioSource func(rate, offset int, dst []int16)

// recorded1k are the samples FreeSWITCH streamed in the transcripts while
// sipp sent its 1 kHz PCMU tone: one period, as received by the WebSocket
// server at 8 kHz (μ-law levels) and at 16 kHz (after the module's
// resampler); the second half of the 16 kHz period mirrors the first.
var recorded1k = map[int][]int16{
	8000:  {0, 5628, 7932, 5628, 0, -5628, -7932, -5628},
	16000: {0, 3053, 5627, 7336, 7930, 7336, 5627, 3053, 0, -3053, -5627, -7336, -7930, -7336, -5627, -3053},
}

// RecordedTone is the default caller: the 1 kHz tone of the recordings,
// sample for sample at 8 and 16 kHz (every 20 ms frame is identical), a
// 1 kHz sine of the same amplitude at other rates.
func RecordedTone(rate, offset int, dst []int16) {
	if p := recorded1k[rate]; p != nil {
		for i := range dst {
			dst[i] = p[(offset+i)%len(p)]
		}
		return
	}
	Tone(1000, 7932)(rate, offset, dst)
}

// Silence is a caller who says nothing.
func Silence(_, _ int, dst []int16) { clear(dst) }

// Tone returns a caller who hums a sine at hz with the given amplitude.
func Tone(hz float64, amplitude float64) AudioSource {
	return func(rate, offset int, dst []int16) {
		for i := range dst {
			dst[i] = int16(math.Round(amplitude * math.Sin(2*math.Pi*hz*float64(offset+i)/float64(rate))))
		}
	}
}
