#include "cri/cni.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/fsutil.h"
#include "lib/log.h"

enum {
	SUBNET_COUNT = 16384, /* the /24s of 100.64.0.0/10 */
	CONFLIST_MAX = 64 * 1024,
};

void cni_default_bridge(const char *node_id, char *out)
{
	(void)snprintf(out, CNI_IFNAME_MAX, "swd%.8s", node_id);
}

/* FNV-1a: stable across builds and hosts, which the subnet must be. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void cni_default_subnet(const char *node_id, char *out)
{
	uint32_t n = fnv1a(node_id) % SUBNET_COUNT;

	(void)snprintf(out, CNI_SUBNET_MAX, "100.%u.%u.0/24",
		       64 + (unsigned)(n / 256), (unsigned)(n % 256));
}

/* Appends s as a JSON string. */
static void json_str(struct buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			buf_printf(b, "\\u%04x", (unsigned)(unsigned char)*s);
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

char *cni_conflist_text(const struct cni_net *n)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "{\n  \"cniVersion\": \"0.4.0\",\n  \"name\": ");
	json_str(&b, n->name);
	buf_puts(&b, ",\n  \"plugins\": [\n    {\n      \"type\": \"bridge\",\n"
		     "      \"bridge\": ");
	json_str(&b, n->bridge);
	buf_puts(&b, ",\n      \"isGateway\": true,\n"
		     "      \"ipMasq\": false,\n"
		     "      \"hairpinMode\": true,\n"
		     "      \"ipam\": {\n"
		     "        \"type\": \"host-local\",\n"
		     "        \"dataDir\": ");
	json_str(&b, n->ipam_dir);
	buf_puts(&b, ",\n        \"ranges\": [[{\"subnet\": ");
	json_str(&b, n->subnet);
	buf_puts(&b, "}]],\n        \"routes\": [{\"dst\": \"0.0.0.0/0\"}]\n"
		     "      }\n    },\n"
		     "    {\n      \"type\": \"portmap\",\n"
		     "      \"capabilities\": {\"portMappings\": true}\n"
		     "    }\n  ]\n}\n");
	return buf_steal(&b);
}

int cni_write_conflist(const char *conf_dir, const struct cni_net *n,
		       struct sw_err *err)
{
	char *path = xasprintf("%s/%s", conf_dir, CNI_CONFLIST_NAME);
	char *text = cni_conflist_text(n);
	struct buf old;
	struct sw_err ignored;
	int rc = 0;

	buf_init(&old);
	if (fsutil_mkdir_p(conf_dir, 0755, err) != 0 ||
	    fsutil_mkdir_p(n->ipam_dir, 0700, err) != 0) {
		rc = -(int)err->kind;
		goto out;
	}
	/* An unchanged file is left alone: rewriting it would make
	 * containerd reload the network for nothing. */
	if (fsutil_read_file(path, CONFLIST_MAX, &old, &ignored) == 0 &&
	    old.data != NULL && strcmp(old.data, text) == 0)
		goto out;
	rc = fsutil_write_file(path, text, err);
out:
	buf_free(&old);
	free(text);
	free(path);
	return rc;
}

/* Waits for the kernel's answer to a netlink request: an NLMSG_ERROR
 * carrying 0 (the ack) or a negative errno. */
static int nl_ack(int fd, const char *name, struct sw_err *err)
{
	char reply[4096];
	ssize_t n = recv(fd, reply, sizeof(reply), 0);
	struct nlmsghdr *h = (struct nlmsghdr *)reply;
	struct nlmsgerr *e;

	if (n == -1)
		return sw_err_sys(err, errno, "deleting link %s", name);
	if (!NLMSG_OK(h, (size_t)n) || h->nlmsg_type != NLMSG_ERROR)
		return sw_err_set(err, SW_ESYSTEM,
				  "deleting link %s: unexpected reply", name);
	e = NLMSG_DATA(h);
	if (e->error != 0 && e->error != -ENODEV)
		return sw_err_sys(err, -e->error, "deleting link %s", name);
	return 0;
}

int cni_link_delete(const char *name, struct sw_err *err)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	unsigned idx = if_nametoindex(name);
	int fd, rc;

	if (idx == 0)
		return 0; /* no such interface */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd == -1)
		return sw_err_sys(err, errno, "netlink socket");
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_DELLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	if (send(fd, &req, req.nh.nlmsg_len, 0) == -1)
		rc = sw_err_sys(err, errno, "deleting link %s", name);
	else
		rc = nl_ack(fd, name, err);
	close(fd);
	return rc;
}

extern char **environ;

/* Runs `iptables -w 5 -t nat <op> POSTROUTING <the node's rule>`; returns
 * its exit status, or -1 when it could not run. Blocking (at most the 5 s
 * lock wait): it runs when a node's executor starts or leaves. */
static int masquerade_rule(const struct cni_net *n, const char *op)
{
	char comment[96];
	char *argv[] = {"iptables", "-w", "5", "-t", "nat", (char *)op,
			"POSTROUTING", "-s", (char *)n->subnet, "!", "-o",
			(char *)n->bridge, "-m", "comment", "--comment", comment,
			"-j", "MASQUERADE", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	(void)snprintf(comment, sizeof(comment), "swarmd %s", n->name);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "iptables", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int cni_masquerade(const struct cni_net *n, bool on, struct sw_err *err)
{
	int found = masquerade_rule(n, "-C");

	/* -C answers 0 (there) or 1 (absent); anything else is a failure. */
	if (found < 0 || found > 1)
		return sw_err_set(err, SW_ESYSTEM,
				  "iptables could not check the masquerade "
				  "rule of %s", n->subnet);
	if (on == (found == 0))
		return 0;
	if (masquerade_rule(n, on ? "-A" : "-D") != 0)
		return sw_err_set(err, SW_ESYSTEM,
				  "iptables: %s the masquerade rule of %s failed",
				  on ? "adding" : "deleting", n->subnet);
	return 0;
}

int cni_teardown(const char *conf_dir, const struct cni_net *n,
		 struct sw_err *err)
{
	char *path = xasprintf("%s/%s", conf_dir, CNI_CONFLIST_NAME);
	char *ipam = xasprintf("%s/%s", n->ipam_dir, n->name);
	struct sw_err why;
	int rc = 0;

	if (unlink(path) == -1 && errno != ENOENT)
		rc = sw_err_sys(err, errno, "removing %s", path);
	if (rc == 0)
		rc = cni_link_delete(n->bridge, err);
	if (rc == 0)
		rc = fsutil_remove_all(ipam, err);
	/* As at set-up, a host without iptables only loses the rule. */
	if (rc == 0 && cni_masquerade(n, false, &why) != 0)
		log_warn("network %s: %s", n->name, why.msg);
	free(ipam);
	free(path);
	return rc;
}
