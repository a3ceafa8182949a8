package etcd

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns a zap logger for etcd's server and client that forwards
// entries at or above min to lg. etcd only speaks zap; this keeps k1s on one
// logger. Once *stopping is true, entries are demoted to debug: while closing,
// etcd logs every listener it shuts down as a failed serve.
func newZapLogger(lg *slog.Logger, min zapcore.Level, stopping *atomic.Bool) *zap.Logger {
	return zap.New(&slogCore{lg: lg, min: min, stopping: stopping})
}

// slogCore is a zapcore.Core writing to a slog.Logger.
type slogCore struct {
	lg       *slog.Logger
	min      zapcore.Level
	stopping *atomic.Bool
	attrs    []slog.Attr // from With, already converted
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.min }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	attrs := make([]slog.Attr, 0, len(c.attrs)+len(fields))
	attrs = append(attrs, c.attrs...)
	attrs = append(attrs, fieldsToAttrs(fields)...)
	return &slogCore{lg: c.lg, min: c.min, stopping: c.stopping, attrs: attrs}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	attrs := make([]slog.Attr, 0, len(c.attrs)+len(fields))
	attrs = append(attrs, c.attrs...)
	attrs = append(attrs, fieldsToAttrs(fields)...)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	level := slogLevel(e.Level)
	if c.stopping.Load() || benign(e.Message, fields) {
		level = slog.LevelDebug
	}
	c.lg.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

// benign reports whether an etcd error entry is known to be harmless.
//
// "failed to update storage version ... cannot detect storage schema
// version": on a fresh data dir the storage-version monitor can run before
// the first apply has stored the raft term; it retries every few seconds and
// then succeeds. etcd's own tests ignore it (etcd-io/etcd#18978, #19040).
func benign(msg string, fields []zapcore.Field) bool {
	if msg != "failed to update storage version" {
		return false
	}
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType &&
			strings.Contains(err.Error(), "cannot detect storage schema version") {
			return true
		}
	}
	return false
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// fieldsToAttrs renders zap fields through zap's own map encoder, so every
// field type (errors, durations, arrays, objects) comes out as zap would
// print it.
func fieldsToAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
