/*
 * events.c - the device's asynchronous events (ibv_get_async_event): a
 * thread per NIC reads them, acknowledges each at once and hands the ones
 * a VIPL program should hear of to the VIPL layer.
 *
 * QP events are not forwarded: the errors they announce also complete
 * descriptors in error or break the connection, and are reported there
 * with the descriptor that caused them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

struct map_watch {
	struct map_dev *dev;
	map_dev_event_fn fn;
	void *arg;
	pthread_t thread;
	int wake[2]; /* a byte here stops the thread */
};

enum map_dev_event map_event_kind(int type)
{
	switch (type) {
	case IBV_EVENT_PORT_ERR:
		return MAP_EV_PORT_DOWN;
	case IBV_EVENT_PORT_ACTIVE:
		return MAP_EV_PORT_UP;
	case IBV_EVENT_DEVICE_FATAL:
		return MAP_EV_DEVICE_FATAL;
	case IBV_EVENT_CQ_ERR:
		return MAP_EV_CQ_ERROR;
	default:
		return MAP_EV_IGNORED;
	}
}

static void *watch_thread(void *arg)
{
	struct map_watch *w = arg;
	struct pollfd pfd[2] = {
		{ .fd = w->dev->ctx->async_fd, .events = POLLIN },
		{ .fd = w->wake[0], .events = POLLIN },
	};
	struct ibv_async_event ev;
	enum map_dev_event kind;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		/* The fd is non-blocking: drain what is there. */
		while (!ibv_get_async_event(w->dev->ctx, &ev)) {
			kind = map_event_kind(ev.event_type);
			ibv_ack_async_event(&ev);
			if (kind != MAP_EV_IGNORED)
				w->fn(w->arg, kind);
		}
	}
	return NULL;
}

int map_dev_watch(struct map_dev *dev, map_dev_event_fn fn, void *arg)
{
	int fd = dev->ctx->async_fd, flags = fcntl(fd, F_GETFL);
	struct map_watch *w;

	if (dev->watch)
		return EBUSY;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
		return errno;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->dev = dev;
	w->fn = fn;
	w->arg = arg;
	if (pipe(w->wake)) {
		free(w);
		return errno;
	}
	if (pthread_create(&w->thread, NULL, watch_thread, w)) {
		close(w->wake[0]);
		close(w->wake[1]);
		free(w);
		return EAGAIN;
	}
	dev->watch = w;
	return 0;
}

void map_dev_unwatch(struct map_dev *dev)
{
	struct map_watch *w = dev->watch;
	char byte = 0;

	if (!w)
		return;
	if (write(w->wake[1], &byte, 1) != 1)
		pthread_cancel(w->thread);
	pthread_join(w->thread, NULL);
	close(w->wake[0]);
	close(w->wake[1]);
	free(w);
	dev->watch = NULL;
}
