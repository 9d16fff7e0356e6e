package main

import (
	"context"
	"time"

	"ailb/esl/fssim"
	"ailb/media"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"
)

// eslgoCallLimit bounds a call in the eslgo baseline, as any handler would.
const eslgoCallLimit = 4 * time.Hour

// serveEslgo runs a controller written the way eslgo's README and examples
// teach: eslgo.ListenAndServe with its defaults (including its logger), one
// SendCommand per step, each waiting for its reply, events through
// RegisterEventListener. eslgo's server cannot be stopped, so on ctx's end
// this returns and the process exit closes its listener and calls.
func serveEslgo(ctx context.Context, addr, endpoint string) error {
	errc := make(chan error, 1)
	go func() { errc <- eslgo.ListenAndServe(addr, eslgoHandler(endpoint)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
}

func eslgoHandler(endpoint string) eslgo.OutboundHandler {
	return func(ctx context.Context, conn *eslgo.Conn, connect *eslgo.RawResponse) {
		ctx, cancel := context.WithTimeout(ctx, eslgoCallLimit)
		defer cancel()
		uuid := connect.ChannelUUID()
		if _, err := conn.SendCommand(ctx, command.Linger{Enabled: true, Seconds: lingerSeconds}); err != nil {
			return
		}
		if err := conn.EnableEvents(ctx); err != nil {
			return
		}
		appUUID := fssim.NewUUID()
		done := make(chan bool, 1) // true: the bridge completed; false: the caller hung up
		id := conn.RegisterEventListener(uuid, func(ev *eslgo.Event) {
			var v bool
			switch ev.GetName() {
			case "CHANNEL_EXECUTE_COMPLETE":
				if ev.GetHeader("Application-UUID") != appUUID {
					return
				}
				v = true
			case "CHANNEL_HANGUP":
			default:
				return
			}
			select {
			case done <- v:
			default:
			}
		})
		defer conn.RemoveEventListener(uuid, id)
		for _, v := range media.ALegVars {
			if _, err := conn.SendCommand(ctx, call.Set{UUID: uuid, Key: v.Name, Value: v.Value, Sync: true}); err != nil {
				return
			}
		}
		bridge := &call.Execute{UUID: uuid, AppName: "bridge", AppArgs: endpoint, AppUUID: appUUID, Sync: true}
		if _, err := conn.SendCommand(ctx, bridge); err != nil {
			return
		}
		select {
		case completed := <-done:
			if !completed {
				return
			}
		case <-ctx.Done():
			return
		}
		_ = conn.HangupCall(ctx, uuid, "NORMAL_CLEARING")
	}
}
