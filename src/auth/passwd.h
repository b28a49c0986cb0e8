/* passwd - crypt(3) password hashes (libcrypt: yescrypt by default,
 * sha512-crypt and the other libcrypt methods verified too).
 */
#ifndef MAILPORT_AUTH_PASSWD_H
#define MAILPORT_AUTH_PASSWD_H

#include <stddef.h>

/* passwd_hash - a new hash of password (prefix "$y$" yescrypt, or "$6$"
 * sha512-crypt) with a random salt; 0 or -1 */
int passwd_hash(const char *password, const char *prefix, char *out, size_t outsz);

/* passwd_verify - does password match hash?  Constant-time compare; a
 * NULL or malformed hash never matches (1 match, 0 no).  Slow on purpose
 * (yescrypt): call it off the event loop thread. */
int passwd_verify(const char *password, const char *hash);

/* passwd_dummy_verify - spend the same time as a real verification, for an
 * unknown user, so a wrong user and a wrong password cannot be told apart
 * by timing */
void passwd_dummy_verify(const char *password);

#endif
