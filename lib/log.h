/* Leveled logging to stderr, in the shape dockerd prints:
 * time="..." level=info msg="...". The level is process-wide: it is set once
 * from the command line before the loop starts and only read afterwards. */
#ifndef SW_LOG_H
#define SW_LOG_H

enum sw_loglevel {
	SW_LOG_DEBUG = 0,
	SW_LOG_INFO = 1,
	SW_LOG_WARN = 2,
	SW_LOG_ERROR = 3,
	SW_LOG_FATAL = 4,
};

/* Parses "debug", "info", "warn", "error", "fatal"; -1 when unknown. */
int log_parse_level(const char *s);
void log_set_level(enum sw_loglevel level);
enum sw_loglevel log_get_level(void);
void log_msg(enum sw_loglevel level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(SW_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(SW_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(SW_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(SW_LOG_ERROR, __VA_ARGS__)

#endif
