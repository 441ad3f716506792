/* metrics_http.c - the Prometheus endpoint: GET /metrics over HTTP, served
 * by libmicrohttpd on its own thread. Bound to loopback unless the operator
 * names another address: the counters tell rule names and traffic volume.
 * Owns: the MHD daemon. Threads: one MHD thread; the counters it formats
 * are read with relaxed atomics (metrics.c). */
#include "config.h"

#include <sys/socket.h>
#include <netdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"

#define METRICS_HTTP_CONNS	16	/* scrapers at a time */
#define METRICS_HTTP_TIMEOUT	10	/* seconds for one request */

static struct MHD_Daemon *metrics_httpd;

static enum MHD_Result
metrics_http_reply(struct MHD_Connection *conn, unsigned status, char *body,
    size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
metrics_http_answer(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	size_t len;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    tg_xstrdup("GET only\n"), 9, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return metrics_http_reply(conn, MHD_HTTP_NOT_FOUND,
		    tg_xstrdup("see /metrics\n"), 13, "text/plain");
	{
		char *body = tg_metrics_format(&len);

		return metrics_http_reply(conn, MHD_HTTP_OK, body, len,
		    "text/plain; version=0.0.4; charset=utf-8");
	}
}

/* metrics_http_addr - "host:port", "[v6]:port" or "port" into an
 * address; 0 or -1 */
static int
metrics_http_addr(const char *spec, struct sockaddr_storage *ss)
{
	struct addrinfo hints, *res;
	char host[128];
	const char *port, *colon;
	size_t hl;

	if ((colon = strrchr(spec, ':')) == NULL) {
		tg_strlcpy(host, "127.0.0.1", sizeof host);
		port = spec;
	} else {
		port = colon + 1;
		hl = (size_t)(colon - spec);
		if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
			spec++;
			hl -= 2;
		}
		if (hl == 0 || hl >= sizeof host)
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (*port == '\0' || getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memset(ss, 0, sizeof *ss);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int
tg_metrics_http_start(const char *spec)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (metrics_http_addr(spec, &ss) != 0) {
		tg_log_err("metrics: \"%s\": expected host:port, [v6]:port or "
		    "port, with a numeric address", spec);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Port 0 in the call: MHD takes the port from the address. */
	metrics_httpd = MHD_start_daemon(flags, 0, NULL, NULL,
	    metrics_http_answer, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT,
	    MHD_OPTION_END);
	if (metrics_httpd == NULL) {
		tg_log_err("metrics: cannot listen on %s", spec);
		return -1;
	}
	tg_log_info("metrics on http://%s/metrics", spec);
	return 0;
}

void
tg_metrics_http_stop(void)
{
	if (metrics_httpd != NULL)
		MHD_stop_daemon(metrics_httpd);
	metrics_httpd = NULL;
}
