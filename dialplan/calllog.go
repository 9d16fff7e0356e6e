package dialplan

import "go.uber.org/zap/zapcore"

// attemptList logs a call's attempts as an array of objects.
type attemptList []attempt

func (l attemptList) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, a := range l {
		if err := enc.AppendObject(a); err != nil {
			return err
		}
	}
	return nil
}

func (a attempt) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("assistant", a.Assistant)
	enc.AddString("result", a.Result)
	if a.Cause != "" {
		enc.AddString("cause", a.Cause)
	}
	enc.AddDuration("duration", a.Duration)
	return nil
}
