package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"ailb/breaker"
	"ailb/config"
	"ailb/dialplan"
	"ailb/esl"
	"ailb/media"
	"ailb/ops"
	"ailb/routing"
)

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/ailb.yaml", "configuration file")
	drain := fs.Duration("drain-timeout", 15*time.Minute, "on SIGTERM, how long calls in progress may continue before they are handed back to FreeSWITCH's dialplan")
	var ov overrides
	fs.StringVar(&ov.esl, "listen-esl", "", "override listen.esl (several instances on one host)")
	fs.StringVar(&ov.http, "listen-http", "", "override listen.http")
	fs.StringVar(&ov.media, "listen-media", "", "override listen.media")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := ov.load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ailb: %v\n", err)
		return 1
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "ailb: %v\n", err)
		return 1
	}
	defer log.Sync()
	if err := runServer(cfg, func() (*config.Config, error) { return ov.load(*path) }, *drain, log); err != nil {
		log.Error("ailb stopped", zap.Error(err))
		return 1
	}
	return 0
}

// runServer wires the dependencies, serves, and handles signals:
// SIGTERM drains, SIGINT stops (calls go back to the dialplan), SIGHUP reloads.
func runServer(cfg *config.Config, load func() (*config.Config, error), drain time.Duration, log *zap.Logger) error {
	eslSrv := &esl.Server{
		Allow:        cfg.AllowPrefixes(),
		Log:          log,
		ReplyTimeout: cfg.ESL.ReplyTimeout.D(),
		HangupWait:   cfg.ESL.Linger.D(),
	}
	metrics := ops.NewMetrics(func() float64 { return float64(eslSrv.Active()) })
	eslSrv.OnReject = metrics.Rejected
	// Background work (Redis lease refresh, status sync) stops with bg,
	// after the calls are done so their leases are released first.
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stopBG()
		wg.Wait()
	}()
	goBG := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(bg) }()
	}

	var store routing.Store = routing.NewMemory()
	var shared dialplan.StatusStore
	bopts := breakerOptions(cfg)
	bopts.Log, bopts.OnChange = log, onBreakerChange(metrics)
	ready := map[string]ops.Check{"esl": func(context.Context) error {
		if eslSrv.Stopping() {
			return errors.New("draining: not taking new calls")
		}
		return nil
	}}
	if rc := cfg.Redis; rc != nil {
		redis.SetLogger(redisLogger{log.Named("redis")})
		client := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: rc.Addrs, MasterName: rc.MasterName, Password: rc.Password, DB: rc.DB,
			// Deadlines come from each operation's context (redis.timeout);
			// a retried pick could leave an extra lease counted.
			ContextTimeoutEnabled: true, MaxRetries: -1,
			DialTimeout: time.Second, PoolSize: 64,
		})
		defer client.Close()
		rs := routing.NewRedis(client, routing.RedisOptions{
			Prefix: rc.Prefix, LeaseTTL: rc.LeaseTTL.D(), Timeout: rc.Timeout.D(),
			OnFallback: metrics.StoreFallback.Inc, Log: log,
		})
		goBG(rs.Run)
		store, shared = rs, rs
		if rc.Shared() {
			sb := breaker.NewShared(client, breaker.SharedOptions{
				Prefix: rc.Prefix, Timeout: rc.Timeout.D(), OnFallback: metrics.StoreFallback.Inc, Log: log,
			})
			goBG(sb.Run)
			bopts.Shared = sb
		}
		ready["redis"] = func(context.Context) error {
			if !rs.Healthy() {
				return errors.New("unavailable: calls use local state")
			}
			return nil
		}
	}
	breakers := breaker.New(bopts)
	for name := range cfg.Assistants {
		metrics.BreakerState.WithLabelValues(name).Set(float64(breakers.State(name)))
	}
	relay := media.NewRelay(media.RelayOptions{Log: log, OnDrop: func(n int) { metrics.MediaDropped.Add(float64(n)) }})
	defer relay.Close()
	deps := dialplan.Deps{
		Store: store, Gate: breakers, Relay: relay,
		OnSkip: func(pool, member string) { metrics.Attempt(pool, member, "skipped_open") },
	}
	rt, err := dialplan.NewRuntime(cfg, load, deps, shared, metrics, log)
	if err != nil {
		return err
	}
	rt.OnReload = func(c *config.Config) {
		o := breakerOptions(c)
		breakers.Update(o)
	}
	eslSrv.Handler = rt.Flow
	goBG(func(ctx context.Context) { rt.RunStatusSync(ctx, time.Second) })

	eslLn, err := net.Listen("tcp", cfg.Listen.ESL)
	if err != nil {
		return fmt.Errorf("listen.esl: %w", err)
	}
	var opsSrv *ops.Server
	var opsLn net.Listener
	if cfg.Listen.HTTP != "" {
		if opsLn, err = net.Listen("tcp", cfg.Listen.HTTP); err != nil {
			eslLn.Close()
			return fmt.Errorf("listen.http: %w", err)
		}
		admin := &ops.Admin{Token: cfg.Admin.Token, Runtime: rt, Calls: rt.Flow, Breakers: breakerAdmin{breakers}, Log: log}
		opsSrv = &ops.Server{Metrics: metrics, Log: log, Admin: admin.Handler(), Ready: ready}
	}

	var mediaSrv *http.Server
	if addr := *cfg.Listen.Media; addr != "" {
		mediaLn, err := net.Listen("tcp", addr)
		if err != nil {
			eslLn.Close()
			return fmt.Errorf("listen.media: %w", err)
		}
		mediaSrv = &http.Server{Handler: relay.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := mediaSrv.Serve(mediaLn); !errors.Is(err, http.ErrServerClosed) {
				log.Error("media relay listener", zap.Error(err))
			}
		}()
		defer mediaSrv.Close()
	}

	errc := make(chan error, 2)
	go func() { errc <- eslSrv.Serve(eslLn) }()
	if opsSrv != nil {
		go func() { errc <- opsSrv.Serve(opsLn) }()
	}
	log.Info("ailb serving", zap.String("version", version), zap.String("esl", eslLn.Addr().String()),
		zap.String("http", cfg.Listen.HTTP), zap.String("media", *cfg.Listen.Media), zap.Strings("allow", cfg.Listen.Allow))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-errc:
			eslSrv.Close()
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				_ = rt.Reload() // logged either way
				continue
			case syscall.SIGTERM:
				log.Info("SIGTERM: draining calls in progress", zap.Int64("calls", eslSrv.Active()), zap.Duration("timeout", drain))
				ctx, cancel := context.WithTimeout(context.Background(), drain)
				if err := eslSrv.Shutdown(ctx); err != nil {
					log.Warn("drain timed out", zap.Error(err))
				}
				cancel()
			default:
				log.Info("SIGINT: handing calls in progress back to FreeSWITCH", zap.Int64("calls", eslSrv.Active()))
				eslSrv.Close()
			}
			if opsSrv != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = opsSrv.Shutdown(ctx)
				cancel()
			}
			return nil
		}
	}
}

// redisLogger sends go-redis's own messages (dial failures) to zap at
// debug: ailb logs Redis going and coming back once itself.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// overrides are listen addresses given on the command line, applied to
// the file before it is validated (and again on every reload).
type overrides struct{ esl, http, media string }

func (o overrides) load(path string) (*config.Config, error) {
	return config.LoadFileWith(path, func(c *config.Config) {
		if o.esl != "" {
			c.Listen.ESL = o.esl
		}
		if o.http != "" {
			c.Listen.HTTP = o.http
		}
		if o.media != "" {
			c.Listen.Media = &o.media
		}
	})
}

func newLogger(c config.Log) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(c.Level); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil // one line per call: never drop call logs
	zc.DisableStacktrace = true
	return zc.Build()
}
