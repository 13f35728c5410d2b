/*
 * swarmd-pause: PID 1 of a CRI pod sandbox.
 *
 * It holds the pod's namespaces open and does nothing else: it waits for
 * signals, reaps the zombies that get reparented to it (pods that share a
 * PID namespace), and exits 0 on SIGTERM or SIGINT.
 *
 * The signals are blocked and taken with sigwaitinfo(). That matters for
 * PID 1 of a PID namespace: the kernel drops a signal sent to it whose
 * action is SIG_DFL, but never a blocked one, so SIGTERM from the runtime
 * still arrives. Handlers are installed too, so the signals are not
 * ignored even if the mask were lost (e.g. across a debugger attach).
 *
 * Built static (gcc -static) so the image holds nothing but /pause.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void noop_handler(int sig)
{
	(void)sig;
}

static void reap_children(void)
{
	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid > 0)
			continue;
		if (pid < 0 && errno == EINTR)
			continue;
		return; /* 0: children left but none exited; -1: ECHILD */
	}
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGCHLD};
	struct sigaction sa;
	sigset_t set;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		printf("swarmd-pause 1\n");
		return 0;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = noop_handler;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&set, sigs[i]);
		if (sigaction(sigs[i], &sa, NULL) != 0) {
			perror("pause: sigaction");
			return 1;
		}
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		perror("pause: sigprocmask");
		return 1;
	}

	/* Children that exited before the mask was set. */
	reap_children();

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			perror("pause: sigwaitinfo");
			return 1;
		}
		if (sig == SIGCHLD) {
			/* SIGCHLDs coalesce: reap everything that is ready. */
			reap_children();
			continue;
		}
		/* SIGTERM or SIGINT. */
		return 0;
	}
}
