/* worker - `mailport worker`, the unprivileged half of the daemon (see
 * priv/parent.h for the process model).
 */
#ifndef MAILPORT_PRIV_WORKER_H
#define MAILPORT_PRIV_WORKER_H

/* The descriptor the parent hands the worker its socketpair end on. */
#define WORKER_FD 3

/* worker_main - run "worker" (argv[0]); only as started by the parent:
 * anything else gets a message and exit status 2 */
int worker_main(int argc, char **argv);

#endif
