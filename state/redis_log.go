package state

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// LogRedisTo sends go-redis's own messages (a failed dial, about ten a
// second while Redis is down) to log at debug level instead of stderr. The
// Redis store reports outages itself, as store_down and store_up events.
// go-redis keeps one logger for the process, so main calls this once.
func LogRedisTo(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
