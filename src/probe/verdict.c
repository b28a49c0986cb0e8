/* verdict - the one table of explanations (see verdict.h): SMTP replies by
 * code, enhanced code and stage; RFC 3463 enhanced codes; connection
 * errors; DNS outcomes; failures without a reply; EHLO extensions.
 *
 * Public: verdict_reply, verdict_connect, verdict_dns, verdict_problem,
 * verdict_extension, verdict_banner_note, verdict_class_name,
 * probe_stage_name, probe_stage_parse.
 *
 * Sources: RFC 5321 4.2.2/4.2.3 (reply codes), RFC 3463 and the IANA
 * registry of enhanced status codes (RFC 4954, 5248, 6531, 6710, 7293,
 * 7372, 7505, 8617, 8689), RFC 7504 (521/556), RFC 3207 and 4954 (STARTTLS
 * and AUTH replies), and the administrators' guides in the seeds (the
 * "possible reasons for failure" of a telnet test: 500 5.3.3, 501 5.5.4,
 * 503 5.5.2, 530 5.7.1, 550 5.1.1, 550 5.1.7, 550 5.7.1, 421 4.7.0, 252
 * 2.1.5, a refused or blocked port 25 ...).
 * Invariants: every text is static, one line, lower-case start, no final
 * period; the tables are searched linearly (a few hundred rows, once per
 * reply).
 */
#include "probe/verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ST(s) (1u << (s))
#define ANY 0u
#define HELLO (ST(PROBE_EHLO) | ST(PROBE_HELO))
#define ENVELOPE (ST(PROBE_MAIL) | ST(PROBE_RCPT))
#define MESSAGE (ST(PROBE_DOT) | ST(PROBE_BDAT))

/* One row of the reply table. */
struct reply_row {
	int code;
	unsigned stages;	/* ST() bits; ANY: every stage */
	const char *enh;	/* this exact enhanced code, or NULL: any */
	int firm;		/* the code alone says it: wins over the RFC
				 * 3463 text of the enhanced code */
	const char *text;
	const char *next;
};

static const struct reply_row replies[] = {
	/* ---- the greeting ---- */
	{ 220, ST(PROBE_BANNER), NULL, 1,
	  "the server is up and speaks SMTP: 220 means it is ready for us",
	  "" },
	{ 421, ST(PROBE_BANNER), NULL, 1,
	  "the server is up but will not talk now: busy, too many "
	  "connections, or a limit on your address; it closes the connection",
	  "try again later; if it persists, check whether your address is "
	  "rate-limited or on a blocklist" },
	{ 554, ST(PROBE_BANNER), NULL, 1,
	  "the server refuses to talk to you (554 instead of a greeting, RFC "
	  "5321 3.1), usually because your address is on a blocklist or has "
	  "no reverse DNS",
	  "check your address against public blocklists and its PTR record; "
	  "test from your real mail server" },
	{ 521, ANY, NULL, 1,
	  "this host does not accept mail at all (RFC 7504)",
	  "check the domain's MX records (mailport mx DOMAIN): you may be "
	  "talking to the wrong host" },
	{ 556, ANY, NULL, 1,
	  "the recipient's domain does not accept mail (RFC 7504: it "
	  "publishes a null MX)",
	  "nothing to fix on your side: mail to that domain is refused by "
	  "design" },

	/* ---- EHLO / HELO ---- */
	{ 250, ST(PROBE_EHLO), NULL, 1,
	  "the server greeted us; the lines after its name list the ESMTP "
	  "extensions it supports",
	  "" },
	{ 250, ST(PROBE_HELO), NULL, 1,
	  "the server accepted the greeting (plain SMTP: HELO lists no "
	  "extensions, so no STARTTLS, AUTH or SIZE)",
	  "" },
	{ 501, HELLO, NULL, 1,
	  "the server rejects the name given in EHLO/HELO: invalid characters "
	  "in the domain name, or connection restrictions on the server",
	  "give a fully qualified domain name (--helo), ideally the PTR name "
	  "of your address" },
	{ 500, ST(PROBE_EHLO), NULL, 1,
	  "the server does not know EHLO: an old SMTP-only server, or a "
	  "firewall's SMTP inspection filtering commands; HELO is the fallback",
	  "HELO works but without extensions: no STARTTLS, no AUTH, no SIZE" },
	{ 502, ST(PROBE_EHLO), NULL, 1,
	  "the server does not implement EHLO: an old SMTP-only server, or a "
	  "firewall's SMTP inspection filtering commands; HELO is the fallback",
	  "HELO works but without extensions: no STARTTLS, no AUTH, no SIZE" },
	{ 550, HELLO, NULL, 0,
	  "the server refuses the EHLO/HELO name: many servers reject a name "
	  "that is not fully qualified, claims to be them, or does not match "
	  "your address",
	  "give your real host name with --helo; check that it resolves to "
	  "your address" },
	{ 554, HELLO, NULL, 0,
	  "the server refuses the EHLO/HELO name or your client (policy or "
	  "blocklist)",
	  "give your real host name with --helo; check your address against "
	  "blocklists" },

	/* ---- STARTTLS and AUTH ---- */
	{ 220, ST(PROBE_STARTTLS), NULL, 1,
	  "the server is ready to start TLS: the handshake follows", "" },
	{ 454, ST(PROBE_STARTTLS), NULL, 1,
	  "TLS is not available now (RFC 3207): the server has no usable "
	  "certificate or key, or its TLS setup is broken",
	  "check the server's certificate and key settings; mail can still "
	  "go unencrypted" },
	{ 500, ST(PROBE_STARTTLS), NULL, 1,
	  "the server does not know STARTTLS: TLS is not enabled, or a "
	  "firewall's SMTP inspection removed it",
	  "enable STARTTLS on the server; a Cisco ASA with 'inspect esmtp' "
	  "can strip it" },
	{ 502, ST(PROBE_STARTTLS), NULL, 1,
	  "the server does not implement STARTTLS: TLS is not enabled, or a "
	  "firewall's SMTP inspection removed it",
	  "enable STARTTLS on the server; a Cisco ASA with 'inspect esmtp' "
	  "can strip it" },
	{ 501, ST(PROBE_STARTTLS), NULL, 1,
	  "STARTTLS takes no parameters (RFC 3207)", "send STARTTLS alone" },
	{ 503, ST(PROBE_STARTTLS), NULL, 1,
	  "STARTTLS is not allowed now: TLS is already active, or EHLO was "
	  "not sent first",
	  "send EHLO first; STARTTLS only once per connection" },
	{ 235, ANY, NULL, 1,
	  "authentication succeeded (RFC 4954): the server now knows who you "
	  "are", "" },
	{ 334, ANY, NULL, 1,
	  "the server waits for the next step of the login (a base64 "
	  "challenge or prompt)",
	  "" },
	{ 535, ANY, NULL, 1,
	  "authentication failed: wrong user name or password, or this "
	  "account may not log in here",
	  "check the credentials; some servers want the full address as the "
	  "user name" },
	{ 534, ANY, NULL, 1,
	  "the authentication mechanism is too weak for this server (RFC "
	  "4954)",
	  "use a stronger mechanism, or STARTTLS first" },
	{ 538, ANY, NULL, 1,
	  "this authentication mechanism needs an encrypted connection (RFC "
	  "4954)",
	  "use STARTTLS (--starttls) or implicit TLS (--tls) before AUTH" },
	{ 432, ANY, NULL, 1,
	  "a password transition is needed before this account can log in "
	  "(RFC 4954)",
	  "log in once with a plain-text mechanism over TLS, or change the "
	  "password" },
	{ 504, ST(PROBE_AUTH), NULL, 1,
	  "the server does not support this authentication mechanism",
	  "use one of the mechanisms on the EHLO AUTH line" },
	{ 454, ST(PROBE_AUTH), NULL, 1,
	  "temporary authentication failure: the server could not check the "
	  "credentials now",
	  "try again later; the server's password backend may be down" },
	{ 503, ST(PROBE_AUTH), NULL, 1,
	  "AUTH is not allowed now: already authenticated, a transaction is "
	  "open, or EHLO was not sent",
	  "send EHLO, then AUTH before MAIL, and only once" },
	{ 530, ANY, "5.7.0", 1,
	  "the server wants something first: authentication (RFC 4954: "
	  "\"Authentication required\") or STARTTLS (RFC 3207: \"Must issue a "
	  "STARTTLS command first\"); its text says which",
	  "use --starttls and --auth USER, usually on the submission port "
	  "587" },
	{ 530, ANY, NULL, 1,
	  "the server does not accept anonymous mail (\"Client was not "
	  "authenticated\"): it wants AUTH first, as a submission or internal "
	  "server does; a domain's public MX would not ask",
	  "log in with --auth USER (usually on port 587), or probe the "
	  "domain's MX hosts instead" },

	/* ---- MAIL ---- */
	{ 250, ST(PROBE_MAIL), NULL, 1, "the server accepts this sender", "" },
	{ 503, ST(PROBE_MAIL), NULL, 1,
	  "bad sequence of commands: the server wants EHLO/HELO first (\"Send "
	  "hello first\"), or a transaction is already open, or it requires "
	  "STARTTLS or AUTH first",
	  "send EHLO before MAIL; RSET restarts a transaction" },
	{ 501, ST(PROBE_MAIL), NULL, 0,
	  "syntax error in MAIL: the sender address or a parameter (\"Invalid "
	  "arguments\", \"Unrecognized parameter\")",
	  "write MAIL FROM:<user@domain> with the colon and angle brackets; "
	  "use only parameters the EHLO extensions announce" },
	{ 550, ST(PROBE_MAIL), NULL, 0,
	  "the sender is refused: an unknown or forbidden sender domain, a "
	  "failed SPF check, or your address is blocked",
	  "use a real sender address from a domain with working DNS; test "
	  "from your real mail server" },
	{ 550, ST(PROBE_MAIL), "5.7.1", 0,
	  "the sender is refused by policy: you may not send as this address "
	  "from here (not authenticated, SPF, or a blocklist)",
	  "authenticate (--auth), use another sender, or test from your real "
	  "mail server" },
	{ 553, ST(PROBE_MAIL), NULL, 0,
	  "the sender address is not allowed: bad syntax, or you may not use "
	  "it (e.g. not the address you logged in as)",
	  "check the address after MAIL FROM:; when authenticated, send as "
	  "your own address" },
	{ 451, ST(PROBE_MAIL), NULL, 0,
	  "the server could not check the sender now: often a DNS lookup of "
	  "the sender's domain failed, or greylisting",
	  "retry in a few minutes; check that the sender's domain resolves "
	  "(mailport mx DOMAIN)" },

	/* ---- RCPT ---- */
	{ 250, ST(PROBE_RCPT), NULL, 1,
	  "the server accepts this recipient (a server that only checks the "
	  "domain may still bounce it later)",
	  "" },
	{ 251, ANY, NULL, 1,
	  "the recipient is not local, but the server will forward the mail "
	  "(RFC 5321 3.4)", "" },
	{ 503, ST(PROBE_RCPT), NULL, 1,
	  "bad sequence of commands: RCPT needs an accepted MAIL first "
	  "(\"Need mail command\")",
	  "send MAIL FROM:<...> and wait for its 250 before RCPT" },
	{ 501, ST(PROBE_RCPT), NULL, 0,
	  "syntax error in RCPT: the recipient address or a parameter (NOTIFY, "
	  "ORCPT)",
	  "write RCPT TO:<user@domain>; NOTIFY and ORCPT need the DSN "
	  "extension" },
	{ 550, ST(PROBE_RCPT), NULL, 0,
	  "the recipient is refused: the mailbox does not exist or is "
	  "disabled, or the server will not relay to it",
	  "check the address; if its domain is not one of the server's own, "
	  "you must authenticate to relay" },
	{ 550, ST(PROBE_RCPT), "5.1.1", 0,
	  "the recipient does not exist at this server (\"User unknown\")",
	  "check the spelling of the address; ask the recipient for the right "
	  "one" },
	{ 550, ST(PROBE_RCPT), "5.7.1", 0,
	  "relay denied (\"Unable to relay\"): the server does not take mail "
	  "for this domain from you without authentication; from the Internet "
	  "to an outside recipient this is the right answer",
	  "to send through it, authenticate (--auth) or connect from an "
	  "allowed network; to test delivery, use a recipient in one of its "
	  "own domains" },
	{ 554, ST(PROBE_RCPT), "5.7.1", 0,
	  "relay access denied, or the recipient refused by policy: the server "
	  "does not take mail for this domain from you",
	  "to send through it, authenticate (--auth); to test delivery, use a "
	  "recipient in one of its own domains" },
	{ 554, ST(PROBE_RCPT), NULL, 0,
	  "the recipient is refused (often relay access denied, or a policy "
	  "or blocklist decision)",
	  "read the reply text; authenticate to relay" },
	{ 551, ANY, NULL, 0,
	  "user not local: the server does not take mail for this address; "
	  "its text may say where to send it (RFC 5321 3.4)",
	  "check the address and the domain's MX records" },
	{ 552, ST(PROBE_RCPT), NULL, 0,
	  "the recipient's mailbox is over its storage limit (or, from an old "
	  "server, too many recipients)",
	  "the recipient must make room; send fewer recipients at once" },
	{ 553, ST(PROBE_RCPT), NULL, 0,
	  "the recipient address is not allowed: bad syntax, or the server "
	  "forbids it",
	  "check the address after RCPT TO:" },
	{ 450, ST(PROBE_RCPT), NULL, 0,
	  "the recipient is not available now: mailbox busy or locked, or "
	  "greylisting (many servers refuse the first try from an unknown "
	  "sender on purpose)",
	  "retry after a few minutes; a real mail server retries by itself" },
	{ 451, ST(PROBE_RCPT), NULL, 0,
	  "the server could not check this recipient now (a local error, a "
	  "failed lookup, or greylisting)",
	  "retry after a few minutes" },
	{ 452, ST(PROBE_RCPT), NULL, 0,
	  "too many recipients for this transaction, or the server is short "
	  "of storage",
	  "send the other recipients in another transaction" },

	/* ---- DATA and the message ---- */
	{ 354, ANY, NULL, 1,
	  "the server is ready for the message: headers, a blank line, the "
	  "body, then a line holding only a dot (<CRLF>.<CRLF>)",
	  "" },
	{ 503, ST(PROBE_DATA), NULL, 1,
	  "bad sequence of commands: DATA needs MAIL and at least one accepted "
	  "recipient (\"Need rcpt command\")",
	  "look at the RCPT replies above: every recipient was refused" },
	{ 554, ST(PROBE_DATA), NULL, 0,
	  "the transaction is refused at DATA: no valid recipients, or a "
	  "policy decision",
	  "look at the RCPT replies above; read the reply text" },
	{ 550, ST(PROBE_DATA), NULL, 0,
	  "the transaction is refused at DATA (a sender or recipient policy "
	  "check that waits until DATA)",
	  "read the reply text" },
	{ 451, ST(PROBE_DATA), NULL, 0,
	  "the server had a local error before taking the message",
	  "retry later; if it persists, look at the server's logs" },
	{ 250, MESSAGE, NULL, 1,
	  "the message was accepted and queued for delivery: the server now "
	  "owns it (the text often holds its queue id)",
	  "" },
	{ 550, MESSAGE, NULL, 0,
	  "the message was refused after its content was sent: a spam or "
	  "virus filter, a content rule, or SPF/DKIM/DMARC checks",
	  "read the reply text: it usually names the filter or the rule" },
	{ 554, MESSAGE, NULL, 0,
	  "transaction failed: the message was refused, often by a spam or "
	  "content filter or a policy",
	  "read the reply text: it usually names the filter or the rule" },
	{ 554, MESSAGE, "5.7.1", 0,
	  "the message was refused by policy: a spam filter, a content rule, "
	  "or an authentication check (SPF, DKIM, DMARC)",
	  "read the reply text; check the sender domain's SPF/DKIM/DMARC "
	  "records" },
	{ 552, MESSAGE, NULL, 0,
	  "the message is too big, or the recipient's mailbox is full",
	  "compare the message size with the SIZE the server announced in "
	  "EHLO" },
	{ 451, MESSAGE, NULL, 0,
	  "the server had a local error processing the message (a filter or "
	  "its queue failed) and did not take it",
	  "retry later; if it persists, look at the server's logs" },
	{ 452, MESSAGE, NULL, 0,
	  "insufficient system storage: the server's disk is full",
	  "the server's administrator must free space; retry later" },
	{ 450, MESSAGE, NULL, 0,
	  "the message was not taken now (a temporary policy, greylisting at "
	  "DATA, or a busy mailbox)",
	  "retry after a few minutes" },

	/* ---- QUIT, RSET, VRFY ---- */
	{ 221, ANY, NULL, 1,
	  "the server closes the session cleanly (221: closing the "
	  "transmission channel)", "" },
	{ 250, ST(PROBE_RSET), NULL, 1,
	  "the transaction was reset (\"Resetting\"): start again with MAIL",
	  "" },
	{ 250, ST(PROBE_VRFY), NULL, 1,
	  "the server confirms this address exists (VRFY)", "" },
	{ 252, ANY, NULL, 1,
	  "the server will not verify addresses (\"Cannot VRFY user\": most "
	  "refuse, to stop address harvesting) but would try to deliver",
	  "test the recipient with RCPT TO inside a transaction instead" },
	{ 502, ST(PROBE_VRFY), NULL, 1,
	  "VRFY is disabled on this server (common: it would reveal "
	  "addresses)",
	  "test the recipient with RCPT TO inside a transaction instead" },
	{ 550, ST(PROBE_VRFY), NULL, 0,
	  "no such user here (VRFY)", "check the spelling of the address" },

	/* ---- any stage ---- */
	{ 421, ANY, "4.7.0", 1,
	  "the server gave up on this connection: too many errors (mistyped "
	  "or refused commands) or a policy limit on your address; it closes "
	  "the connection",
	  "reconnect and type carefully; if it happens at once, your address "
	  "may be rate-limited or on a blocklist" },
	{ 421, ANY, NULL, 1,
	  "the server is closing the connection: shutting down, overloaded, a "
	  "timeout, or too many errors",
	  "reconnect later" },
	{ 500, ANY, NULL, 1,
	  "unrecognized command: a typo, or a command this server does not "
	  "know (\"500 5.3.3 Unrecognized command\")",
	  "check the spelling; in telnet a backspace is sent as a character, "
	  "so retype the whole line" },
	{ 501, ANY, NULL, 0,
	  "syntax error in the command's parameters or arguments (\"Invalid "
	  "arguments\", \"Unrecognized parameter\")",
	  "check the command's syntax (RFC 5321 4.1); use only parameters the "
	  "EHLO extensions announce" },
	{ 502, ANY, NULL, 1,
	  "the command is not implemented by this server",
	  "check the EHLO extension list for what it supports" },
	{ 503, ANY, NULL, 1,
	  "bad sequence of commands: this command is not allowed here (\"Send "
	  "hello first\", \"Need mail command\", \"Need rcpt command\")",
	  "the order is EHLO, (STARTTLS, EHLO), (AUTH), MAIL, RCPT, DATA; RSET "
	  "restarts a transaction" },
	{ 504, ANY, NULL, 1,
	  "a parameter of the command is not implemented",
	  "leave the parameter out, or use one the EHLO extensions announce" },
	{ 555, ANY, NULL, 1,
	  "a MAIL or RCPT parameter is not recognised or not implemented "
	  "(RFC 5321 4.2.3)",
	  "use only the parameters the EHLO extensions allow (SIZE, BODY, "
	  "SMTPUTF8, NOTIFY ...)" },
	{ 455, ANY, NULL, 1,
	  "the server cannot accommodate the parameters now (RFC 5321)",
	  "retry later, or without the parameters" },
	{ 454, ANY, NULL, 0,
	  "a temporary failure of TLS or authentication at the server",
	  "retry later" },
	{ 211, ANY, NULL, 1, "a system status reply", "" },
	{ 214, ANY, NULL, 1, "a help message for humans", "" },
	{ 250, ANY, NULL, 1, "requested action okay, completed", "" },
	{ 450, ANY, NULL, 0,
	  "the mailbox is not available now (busy, locked, or greylisting)",
	  "retry after a few minutes" },
	{ 451, ANY, NULL, 0,
	  "the server had a local error and did not do it",
	  "retry later; if it persists, look at the server's logs" },
	{ 452, ANY, NULL, 0,
	  "insufficient system storage at the server",
	  "retry later" },
	{ 550, ANY, NULL, 0,
	  "the mailbox is unavailable: it does not exist, or a policy refuses "
	  "the action",
	  "read the reply text" },
	{ 552, ANY, NULL, 0,
	  "exceeded storage allocation: too big, or a full mailbox",
	  "send a smaller message" },
	{ 553, ANY, NULL, 0,
	  "the mailbox name is not allowed (bad address syntax or forbidden "
	  "address)",
	  "check the address" },
	{ 554, ANY, NULL, 0,
	  "transaction failed: the server refuses (often a policy or "
	  "blocklist decision)",
	  "read the reply text" },
};

/* One RFC 3463 enhanced code, class-blind ("X.subject.detail"). */
struct enh_row {
	int subject, detail;
	const char *text;
	const char *next;
};

static const struct enh_row enhs[] = {
	{ 0, 0, "an undefined status: only the reply text says more",
	  "read the reply text" },
	{ 1, 0, "a problem with an address", "check the addresses" },
	{ 1, 1, "bad destination mailbox: the recipient does not exist at "
		"this server (user unknown)",
	  "check the spelling of the recipient address; ask the recipient for "
	  "the right one" },
	{ 1, 2, "bad destination system: the recipient's domain does not "
		"exist or cannot take mail",
	  "check the domain part of the address (mailport mx DOMAIN)" },
	{ 1, 3, "bad destination address syntax: the recipient address is "
		"malformed",
	  "write it as user@domain inside < >" },
	{ 1, 4, "ambiguous destination: the address matches several mailboxes",
	  "use a more specific address" },
	{ 1, 5, "the destination address is valid", "" },
	{ 1, 6, "the mailbox has moved and there is no forwarding address",
	  "ask the recipient for the new address" },
	{ 1, 7, "bad sender address: there is a syntax error in the sender's "
		"e-mail address (\"Invalid address\")",
	  "check the address after MAIL FROM: (user@domain inside < >); "
	  "use --from" },
	{ 1, 8, "bad sender system address: the sender's domain does not "
		"exist or could not receive replies",
	  "use a sender from a domain with working DNS (mailport mx DOMAIN)" },
	{ 1, 9, "the message was relayed to a mailer that does not support "
		"DSNs (RFC 3886)", "" },
	{ 1, 10, "the recipient's domain publishes a null MX: it accepts no "
		 "mail (RFC 7505)",
	  "nothing to fix on your side: mail to that domain is refused by "
	  "design" },
	{ 2, 0, "a problem with the recipient's mailbox",
	  "read the reply text" },
	{ 2, 1, "the mailbox is disabled and does not accept messages",
	  "contact the recipient another way" },
	{ 2, 2, "the recipient's mailbox is full",
	  "the recipient must make room; retry later" },
	{ 2, 3, "the message is longer than this mailbox accepts",
	  "send a smaller message" },
	{ 2, 4, "a mailing list expansion problem", "tell the list's owner" },
	{ 3, 0, "a problem at the receiving mail system",
	  "read the reply text; retry later" },
	{ 3, 1, "the mail system is full (out of disk space)",
	  "the server's administrator must free space" },
	{ 3, 2, "the system does not accept network messages now (shutting "
		"down or in maintenance)",
	  "retry later" },
	{ 3, 3, "the system does not support a feature the command or "
		"message needs (some servers also say 5.3.3 for an "
		"unrecognized command)",
	  "check the command's spelling and the EHLO extension list" },
	{ 3, 4, "the message is too big for the system",
	  "compare its size with the SIZE the server announced in EHLO" },
	{ 3, 5, "the receiving system is incorrectly configured",
	  "tell the server's administrator" },
	{ 3, 6, "the requested priority was changed (RFC 6710)", "" },
	{ 4, 0, "a network or routing problem", "retry later" },
	{ 4, 1, "no answer from the next host", "retry later" },
	{ 4, 2, "bad connection: the connection to the next host failed",
	  "retry later" },
	{ 4, 3, "directory server failure: usually a DNS lookup failed at "
		"the server",
	  "retry later; check the DNS of the domains involved" },
	{ 4, 4, "unable to route: no MX or address for the destination domain",
	  "check the domain's MX records (mailport mx DOMAIN)" },
	{ 4, 5, "mail system congestion: the server is overloaded",
	  "retry later" },
	{ 4, 6, "routing loop detected: the mail would go round in circles "
		"(MX records pointing back, or too many hops)",
	  "check the MX records and forwarding of the domains involved" },
	{ 4, 7, "delivery time expired: the message stayed too long in a "
		"queue", "" },
	{ 5, 0, "a protocol problem", "read the reply text" },
	{ 5, 1, "invalid command: not recognised, or not valid at this point "
		"of the session",
	  "check the spelling and the order of the commands" },
	{ 5, 2, "syntax error in the command (some servers also use 5.5.2 for "
		"a wrong order of commands)",
	  "check the command's syntax and order" },
	{ 5, 3, "too many recipients in one transaction",
	  "send the other recipients in another transaction" },
	{ 5, 4, "invalid command arguments: an unknown parameter or a bad "
		"value (\"Invalid arguments\", \"Unrecognized parameter\")",
	  "use only parameters the EHLO extensions announce" },
	{ 5, 5, "wrong protocol version", "" },
	{ 5, 6, "an authentication exchange line is too long (RFC 4954)",
	  "use a shorter credential or another mechanism" },
	{ 6, 0, "a problem with the message content",
	  "read the reply text" },
	{ 6, 1, "media not supported: the server does not accept this content "
		"type or encoding",
	  "send plain text, or the content the server accepts" },
	{ 6, 2, "conversion required but prohibited", "" },
	{ 6, 3, "conversion required but not supported (e.g. 8-bit data on a "
		"7-bit path)",
	  "encode the message as 7-bit (quoted-printable or base64)" },
	{ 6, 4, "the content was converted with loss", "" },
	{ 6, 5, "content conversion failed", "" },
	{ 6, 6, "message content not available (RFC 4468)", "" },
	{ 6, 7, "non-ASCII addresses are not allowed for this sender or "
		"recipient (RFC 6531)",
	  "use an ASCII address, or a server that announces SMTPUTF8" },
	{ 6, 8, "a UTF-8 reply is required but the client did not allow it "
		"(RFC 6531)", "" },
	{ 6, 9, "a UTF-8 header message cannot be passed on to some "
		"recipients (RFC 6531)", "" },
	{ 7, 0, "a security or policy problem (often: authentication or TLS "
		"required)",
	  "read the reply text; try --starttls and --auth" },
	{ 7, 1, "delivery not authorized, message refused: a policy decision "
		"(relay denied, sender or client blocked, spam filter)",
	  "read the reply text; authenticate to relay; test from your real "
	  "mail server" },
	{ 7, 2, "mailing list expansion prohibited", "" },
	{ 7, 3, "security conversion required but not possible", "" },
	{ 7, 4, "security features not supported", "" },
	{ 7, 5, "cryptographic failure", "" },
	{ 7, 6, "cryptographic algorithm not supported", "" },
	{ 7, 7, "message integrity failure", "" },
	{ 7, 8, "authentication credentials invalid: wrong user name or "
		"password (RFC 4954)",
	  "check the credentials" },
	{ 7, 9, "authentication mechanism too weak (RFC 4954)",
	  "use a stronger mechanism, or STARTTLS first" },
	{ 7, 10, "encryption needed (RFC 5248)",
	  "use STARTTLS (--starttls) or implicit TLS (--tls)" },
	{ 7, 11, "encryption required for this authentication mechanism (RFC "
		 "4954)",
	  "use STARTTLS (--starttls) before AUTH" },
	{ 7, 12, "a password transition is needed (RFC 4954)",
	  "log in once with a plain-text mechanism over TLS" },
	{ 7, 13, "the user account is disabled",
	  "ask the server's administrator" },
	{ 7, 14, "a trust relationship is required", "" },
	{ 7, 15, "the priority level is too low (RFC 6710)", "" },
	{ 7, 16, "the message is too big for the requested priority (RFC "
		 "6710)", "" },
	{ 7, 17, "the mailbox owner has changed (RFC 7293)", "" },
	{ 7, 18, "the domain owner has changed (RFC 7293)", "" },
	{ 7, 19, "the RRVS test cannot be completed (RFC 7293)", "" },
	{ 7, 20, "no passing DKIM signature found (RFC 7372)",
	  "sign the mail with DKIM for the sender's domain" },
	{ 7, 21, "no acceptable DKIM signature found (RFC 7372)",
	  "check the DKIM signature and key of the sender's domain" },
	{ 7, 22, "no valid DKIM signature of the author's domain found (RFC "
		 "7372)",
	  "sign with the domain of the From: address" },
	{ 7, 23, "SPF validation failed: the sender's domain does not allow "
		 "mail from this address (RFC 7372)",
	  "add the sending address to the sender domain's SPF record, or "
	  "send from an allowed server" },
	{ 7, 24, "SPF validation error: a broken SPF record or a DNS failure "
		 "(RFC 7372)",
	  "check the sender domain's SPF record" },
	{ 7, 25, "reverse DNS validation failed: the client's address has no "
		 "PTR, or its PTR name does not resolve back (RFC 7372)",
	  "give the sending address a PTR record whose name resolves to it" },
	{ 7, 26, "several authentication checks failed (RFC 7372)",
	  "check SPF, DKIM and DMARC of the sender's domain" },
	{ 7, 27, "the sender's domain publishes a null MX: it could never "
		 "receive a reply (RFC 7505)",
	  "use a sender address that can receive mail" },
	{ 7, 28, "mail flood detected: too much mail from you", "send less" },
	{ 7, 29, "ARC validation failure (RFC 8617)", "" },
	{ 7, 30, "REQUIRETLS support required (RFC 8689)", "" },
};

/* Generic texts by the first digit of the code. */
static const struct verdict generic[4] = {
	{ VERDICT_OK, "success (a 2xx reply: the command worked)", "" },
	{ VERDICT_OK, "the server waits for more input (a 3xx intermediate "
		      "reply)", "" },
	{ VERDICT_TEMPORARY, "temporary failure (4xx): the server cannot do "
			     "it now, a sender would retry later",
	  "read the reply text; retry later" },
	{ VERDICT_PERMANENT, "permanent failure (5xx): the server refuses, "
			     "and retrying the same thing will not help",
	  "read the reply text" },
};

static const char *const stage_names[PROBE_STAGES] = {
	"connect", "banner", "ehlo", "helo", "starttls", "tls", "auth",
	"mail", "rcpt", "data", "dot", "bdat", "quit", "rset", "vrfy", "other",
};

/* verdict_class_name - see verdict.h */
const char *verdict_class_name(enum verdict_class c)
{
	switch (c) {
	case VERDICT_OK: return "ok";
	case VERDICT_TEMPORARY: return "temporary";
	case VERDICT_PERMANENT: return "permanent";
	case VERDICT_ERROR: return "error";
	}
	return "error";
}

/* probe_stage_name - see verdict.h */
const char *probe_stage_name(enum probe_stage s)
{
	return (unsigned)s < PROBE_STAGES ? stage_names[s] : "other";
}

/* probe_stage_parse - see verdict.h */
int probe_stage_parse(const char *name, enum probe_stage *out)
{
	int i;

	for (i = 0; i < PROBE_STAGES; i++) {
		if (strcasecmp(name, stage_names[i]) == 0) {
			*out = (enum probe_stage)i;
			return 0;
		}
	}
	return -1;
}

/* make - a verdict */
static struct verdict make(enum verdict_class cls, const char *text,
			   const char *next)
{
	struct verdict v;

	v.cls = cls;
	v.text = text;
	v.next = next ? next : "";
	return v;
}

/* code_class - the class of a reply code by its first digit */
static enum verdict_class code_class(int code)
{
	switch (code / 100) {
	case 2:
	case 3: return VERDICT_OK;
	case 4: return VERDICT_TEMPORARY;
	case 5: return VERDICT_PERMANENT;
	}
	return VERDICT_ERROR;
}

/* parse_enh - "c.s.d" (1 digit, then 1..3 digits twice) into subject and
 * detail; 0, or -1 if enh is not an enhanced code */
static int parse_enh(const char *enh, int *subject, int *detail)
{
	int part[3] = { 0, 0, 0 }, k = 0, digits = 0;
	const char *p;

	if (!enh || !*enh)
		return -1;
	for (p = enh; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++digits > (k == 0 ? 1 : 3))
				return -1;
			part[k] = part[k] * 10 + (*p - '0');
		} else if (*p == '.' && digits > 0 && k < 2) {
			k++;
			digits = 0;
		} else {
			return -1;
		}
	}
	if (k != 2 || digits == 0 || part[0] < 2 || part[0] > 5)
		return -1;
	*subject = part[1];
	*detail = part[2];
	return 0;
}

/* find_enh - the RFC 3463 row of enh, or NULL */
static const struct enh_row *find_enh(const char *enh)
{
	int s, d;
	size_t i;

	if (parse_enh(enh, &s, &d) < 0)
		return NULL;
	for (i = 0; i < sizeof(enhs) / sizeof(enhs[0]); i++)
		if (enhs[i].subject == s && enhs[i].detail == d)
			return &enhs[i];
	return NULL;
}

/* row_score - how specifically row matches (code, enh, stage): -1 if it
 * does not; +2 for the enhanced code, +1 for the stage */
static int row_score(const struct reply_row *row, int code, const char *enh,
		     enum probe_stage stage)
{
	int score = 0;

	if (row->code != code)
		return -1;
	if (row->enh) {
		if (!enh || strcmp(row->enh, enh) != 0)
			return -1;
		score += 2;
	}
	if (row->stages) {
		if ((unsigned)stage >= PROBE_STAGES ||
		    !(row->stages & ST(stage)))
			return -1;
		score += 1;
	}
	return score;
}

/* best_row - the most specific row for (code, enh, stage), or NULL; the
 * first of equally specific rows */
static const struct reply_row *best_row(int code, const char *enh,
					enum probe_stage stage)
{
	const struct reply_row *best = NULL;
	int best_score = -1, s;
	size_t i;

	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		s = row_score(&replies[i], code, enh, stage);
		if (s > best_score) {
			best = &replies[i];
			best_score = s;
		}
	}
	return best;
}

/* verdict_reply - see verdict.h; the order is in the header comment */
struct verdict verdict_reply(int code, const char *enh,
			     enum probe_stage stage)
{
	enum verdict_class cls = code_class(code);
	const struct reply_row *row;
	const struct enh_row *e;

	if (cls == VERDICT_ERROR || code > 599)
		return make(VERDICT_ERROR, "not a valid SMTP reply code (the "
			    "first digit must be 2 to 5): the port may belong "
			    "to another service",
			    "check the port; compare with a direct "
			    "connection");
	if (enh && !*enh)
		enh = NULL;
	row = best_row(code, enh, stage);
	if (row && (row->enh || row->firm))
		return make(cls, row->text, row->next);
	e = cls == VERDICT_OK ? NULL : find_enh(enh);
	if (e && (e->detail != 0 || !row))
		return make(cls, e->text, e->next);
	if (row)
		return make(cls, row->text, row->next);
	return generic[code / 100 - 2];
}

/* verdict_connect - see verdict.h */
struct verdict verdict_connect(int err)
{
	switch (err) {
	case 0:
		return make(VERDICT_OK, "connected: something listens on this "
			    "port", "");
	case ECONNREFUSED:
		return make(VERDICT_ERROR, "connection refused: the host is up "
			    "but nothing listens on this port (the SMTP service "
			    "is down or not running here), or the port number "
			    "is wrong; a firewall can also refuse",
			    "check that the mail service runs and listens on "
			    "this address and port (ss -ltn on the server), "
			    "and the port (25, 465 or 587)");
	case ETIMEDOUT:
		return make(VERDICT_ERROR, "no answer to the connection "
			    "attempt: a firewall drops it (at the server, on "
			    "your side, or your ISP blocks outgoing port 25, as "
			    "most home ISPs do), or the address is wrong or the "
			    "host is down",
			    "try from another network or to port 587; check "
			    "the firewalls on both sides and that the address "
			    "is the server's (mailport mx DOMAIN)");
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return make(VERDICT_ERROR, "no route to the host: it is down, "
			    "or a router or firewall rejects the traffic "
			    "(unreachable / administratively prohibited)",
			    "check the address (DNS) and the firewalls on "
			    "the way");
	case ENETUNREACH:
	case ENETDOWN:
		return make(VERDICT_ERROR, "network unreachable: this machine "
			    "has no route to that network (no default route, "
			    "or an IPv6 address without IPv6 connectivity)",
			    "check your own network; try another address of "
			    "the host");
	case ECONNRESET:
	case ECONNABORTED:
		return make(VERDICT_ERROR, "the connection was reset: a "
			    "firewall, a proxy or the server dropped it",
			    "try again; check firewalls and the server's "
			    "logs");
	case EACCES:
	case EPERM:
		return make(VERDICT_ERROR, "the connection was blocked on this "
			    "machine: a local firewall rule or security policy",
			    "check the local firewall (nftables/iptables) for "
			    "outgoing port 25");
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return make(VERDICT_ERROR, "this machine cannot use that kind "
			    "of address (e.g. IPv6 is not configured here)",
			    "try another address of the host");
	}
	return make(VERDICT_ERROR, "the connection failed",
		    "see the system error; check the address and the port");
}

/* verdict_dns - see verdict.h */
struct verdict verdict_dns(enum route_status st)
{
	switch (st) {
	case ROUTE_OK:
		return make(VERDICT_OK, "the domain resolved to mail hosts", "");
	case ROUTE_NULLMX:
		return make(VERDICT_PERMANENT, "the domain publishes a null MX "
			    "(RFC 7505 \"0 .\"): it accepts no mail, and "
			    "senders bounce at once",
			    "nothing to test: the domain refuses mail by "
			    "design; if that is wrong, its owner must remove "
			    "the null MX record");
	case ROUTE_NXDOMAIN:
		return make(VERDICT_PERMANENT, "the domain does not exist "
			    "(NXDOMAIN): mail to it bounces at once",
			    "check the spelling; a new domain may not be "
			    "delegated yet");
	case ROUTE_NOADDR:
		return make(VERDICT_PERMANENT, "the domain has no MX record and "
			    "no A/AAAA address: there is nowhere to deliver "
			    "its mail",
			    "the domain's owner must publish an MX record");
	case ROUTE_TEMPFAIL:
		return make(VERDICT_TEMPORARY, "the DNS lookup failed for now "
			    "(SERVFAIL, timeout, or no DNS server reachable): "
			    "senders keep the mail and retry",
			    "check the domain's name servers, and that this "
			    "machine reaches a DNS server (a firewall may "
			    "block DNS; --dns HOST:PORT picks another)");
	case ROUTE_BADNAME:
		return make(VERDICT_ERROR, "not a valid domain name",
			    "give a domain like example.org (IDNs in their "
			    "xn-- form), a host name, or an IP address");
	case ROUTE_CANCELLED:
		break;
	}
	return make(VERDICT_ERROR, "the lookup was cancelled", "");
}

/* verdict_problem - see verdict.h */
struct verdict verdict_problem(enum verdict_problem p,
			       enum probe_stage stage)
{
	switch (p) {
	case VERDICT_CLOSED:
		if (stage == PROBE_BANNER || stage == PROBE_CONNECT)
			return make(VERDICT_ERROR, "the server closed the "
				    "connection without a greeting: a TCP "
				    "wrapper or blocklist dropping you, an "
				    "overloaded server, or a firewall or proxy "
				    "in between",
				    "try later and from another address; check "
				    "the server's logs for your address");
		return make(VERDICT_ERROR, "the server closed the connection "
			    "without a reply: it crashed, hit a limit, or "
			    "dropped you by policy",
			    "check the server's logs");
	case VERDICT_TIMEOUT:
		if (stage == PROBE_BANNER)
			return make(VERDICT_ERROR, "connected, but no greeting "
				    "came in time: an overloaded or tarpitting "
				    "server (some wait on purpose), a firewall "
				    "or proxy holding the connection, or not an "
				    "SMTP server on this port",
				    "wait longer (--timeout); port 465 expects "
				    "TLS at once (--tls)");
		if (stage == PROBE_DOT || stage == PROBE_BDAT)
			return make(VERDICT_ERROR, "no reply after the message: "
				    "the server's content filter may be slow "
				    "(RFC 5321 allows it 10 minutes)",
				    "wait longer (--timeout)");
		if (stage == PROBE_TLS)
			return make(VERDICT_ERROR, "the TLS handshake did not "
				    "finish in time",
				    "check the server's TLS setup; a firewall "
				    "may block it");
		return make(VERDICT_ERROR, "no reply in time", "wait longer "
			    "(--timeout); check the server's load");
	case VERDICT_MALFORMED:
		return make(VERDICT_ERROR, "the reply is not valid SMTP: the "
			    "port may belong to another service, or a proxy "
			    "mangles the session",
			    "check the port; compare with a direct "
			    "connection");
	case VERDICT_TLS_HANDSHAKE:
		return make(VERDICT_ERROR, "the TLS handshake failed: no "
			    "common protocol version or cipher, a broken "
			    "certificate setup, or something in between "
			    "interfering",
			    "check the server's TLS protocols, ciphers, "
			    "certificate and key");
	case VERDICT_TLS_VERIFY:
		return make(VERDICT_ERROR, "the certificate does not verify "
			    "against the trusted CAs: self-signed, expired, or "
			    "an incomplete chain",
			    "use a certificate from a public CA with its "
			    "intermediates, or give --ca FILE for a private "
			    "CA");
	case VERDICT_TLS_NAME:
		return make(VERDICT_ERROR, "the certificate does not name this "
			    "host",
			    "the certificate's subjectAltName must list the "
			    "host name senders use (the MX name)");
	case VERDICT_NO_STARTTLS:
		return make(VERDICT_ERROR, "the server does not offer STARTTLS: "
			    "mail to it travels unencrypted",
			    "enable TLS on the server; a firewall's SMTP "
			    "inspection (Cisco ASA) can hide STARTTLS");
	case VERDICT_NO_AUTH:
		return make(VERDICT_ERROR, "the server does not offer AUTH here "
			    "(maybe only after STARTTLS, or it is a public MX "
			    "that takes no logins)",
			    "try --starttls, or the submission port 587");
	}
	return make(VERDICT_ERROR, "an unknown problem", "");
}

/* One EHLO keyword. */
struct ext_row {
	const char *keyword;
	const char *text;
};

static const struct ext_row exts[] = {
	{ "PIPELINING", "commands may be sent in groups without waiting for "
			"each reply (RFC 2920)" },
	{ "8BITMIME", "8-bit message bodies are accepted (RFC 6152)" },
	{ "BINARYMIME", "binary message bodies are accepted with BDAT (RFC "
			"3030)" },
	{ "CHUNKING", "the message may be sent in chunks with BDAT instead of "
		      "DATA (RFC 3030)" },
	{ "STARTTLS", "the connection can be encrypted with STARTTLS (RFC "
		      "3207)" },
	{ "DSN", "delivery status notifications: NOTIFY and ORCPT on RCPT, RET "
		 "and ENVID on MAIL (RFC 3461)" },
	{ "ENHANCEDSTATUSCODES", "replies carry enhanced status codes such as "
				 "5.1.1 (RFC 2034, RFC 3463)" },
	{ "SMTPUTF8", "internationalized (UTF-8) addresses and headers are "
		      "accepted (RFC 6531)" },
	{ "REQUIRETLS", "a sender may require TLS on every hop (RFC 8689)" },
	{ "DELIVERBY", "a sender may set a delivery deadline (BY, RFC 2852)" },
	{ "MT-PRIORITY", "message priorities (MT-PRIORITY, RFC 6710)" },
	{ "FUTURERELEASE", "delivery may be held until a given time (RFC "
			   "4865)" },
	{ "LIMITS", "the server announces its limits, e.g. recipients per "
		    "transaction (RFC 9422)" },
	{ "RRVS", "require-recipient-valid-since checks (RFC 7293)" },
	{ "MTRK", "message tracking (RFC 3885)" },
	{ "SUBMITTER", "the SUBMITTER parameter (RFC 4405)" },
	{ "NO-SOLICITING", "the server states it does not want solicitations "
			   "(RFC 3865)" },
	{ "CHECKPOINT", "checkpoint/restart of interrupted transfers (RFC "
			"1845)" },
	{ "ETRN", "a client may ask the server to send the mail queued for "
		  "its domain (RFC 1985)" },
	{ "ATRN", "authenticated on-demand relay for domains that connect "
		  "from time to time (RFC 2645)" },
	{ "TURN", "the old TURN command (RFC 821): roles are swapped; unsafe "
		  "without authentication" },
	{ "VRFY", "address verification (VRFY) is enabled" },
	{ "EXPN", "mailing list expansion (EXPN) is enabled: it can reveal "
		  "addresses" },
	{ "HELP", "the HELP command is available" },
	{ "ONEX", "one message per connection (Sendmail)" },
	{ "VERB", "verbose mode (Sendmail)" },
	{ "XCLIENT", "Postfix: a trusted proxy may pass the original client's "
		     "details" },
	{ "XFORWARD", "Postfix: a trusted content filter may pass the original "
		      "client's details" },
	{ "XEXCH50", "Microsoft Exchange: passes Exchange properties between "
		     "its servers" },
	{ "X-EXPS", "Microsoft Exchange: authentication between Exchange "
		    "servers" },
	{ "X-LINK2STATE", "Microsoft Exchange: routing information between "
			  "Exchange servers" },
	{ "X-ANONYMOUSTLS", "Microsoft Exchange: TLS between Exchange servers" },
	{ "XRDST", "Microsoft Exchange: redirects for Exchange servers" },
	{ "XSHADOW", "Microsoft Exchange: shadow redundancy between Exchange "
		     "servers" },
	{ "XSHADOWREQUEST", "Microsoft Exchange: shadow redundancy between "
			    "Exchange servers" },
	{ "XOORG", "Microsoft Exchange: passes the originating organization" },
	{ "XPROXY", "Microsoft Exchange: proxying between Exchange servers" },
	{ "XACK", "PowerMTA: a private acknowledgement extension" },
	{ "XMRG", "PowerMTA: mail merge (one message, many personalized "
		  "copies)" },
	{ "XDFN", "PowerMTA: a private mail merge extension" },
	{ "VERP", "variable envelope return paths: per-recipient bounce "
		  "addresses (PowerMTA, Courier)" },
	{ "XVERP", "variable envelope return paths (Postfix)" },
	{ "XUSR", "Sendmail: marks the message as a user submission" },
	{ "XQUE", "a private queueing extension" },
};

/* put - snprintf into out[n] (cut quietly) */
__attribute__((format(printf, 3, 4)))
static void put(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

/* word_len - length of the keyword at the start of s */
static size_t word_len(const char *s)
{
	return strcspn(s, " \t=");
}

/* masked - a keyword a Cisco PIX/ASA's SMTP inspection turned into X's
 * ("XXXXXXXA"): at least 4 X's, then at most one other character */
static int masked(const char *kw, size_t len)
{
	size_t x = 0;

	while (x < len && (kw[x] == 'X' || kw[x] == 'x'))
		x++;
	return x >= 4 && len - x <= 1;
}

/* explain_size - RFC 1870: "SIZE" or "SIZE n" */
static void explain_size(const char *args, char *out, size_t n)
{
	char *end;
	unsigned long long v;

	while (*args == ' ')
		args++;
	errno = 0;
	v = strtoull(args, &end, 10);
	if (end == args || v == 0 || errno == ERANGE ||
	    (*end != '\0' && *end != ' ')) {
		put(out, n, "message sizes may be declared, but the server "
		    "announces no fixed limit (RFC 1870)");
		return;
	}
	if (v >= 1024 * 1024)
		put(out, n, "messages up to %llu bytes (%.1f MiB) are "
		    "accepted (RFC 1870)", v, (double)v / (1024.0 * 1024.0));
	else
		put(out, n, "messages up to %llu bytes are accepted (RFC "
		    "1870)", v);
}

/* explain_auth - RFC 4954: "AUTH PLAIN LOGIN ..." (or the old "AUTH=") */
static void explain_auth(const char *args, int old, char *out, size_t n)
{
	char mechs[256];
	size_t k = 0;
	int plain = 0;

	while (*args == ' ' || *args == '=')
		args++;
	for (; *args && k + 1 < sizeof(mechs); args++) {
		unsigned char c = (unsigned char)*args;

		mechs[k++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	mechs[k] = '\0';
	plain = strstr(mechs, "PLAIN") || strstr(mechs, "LOGIN") ||
		strstr(mechs, "plain") || strstr(mechs, "login");
	if (old)
		put(out, n, "the same AUTH list in the pre-standard form old "
		    "Outlook versions need: %s", k ? mechs : "(none)");
	else if (k == 0)
		put(out, n, "authentication is offered, but no mechanism is "
		    "listed (RFC 4954)");
	else
		put(out, n, "login possible with %s (RFC 4954)%s", mechs,
		    plain ? "; PLAIN and LOGIN send the password only base64 "
			    "encoded: use them over TLS" : "");
}

/* verdict_extension - see verdict.h */
int verdict_extension(const char *line, char *out, size_t n)
{
	size_t len = word_len(line), i;
	const char *args = line + len;

	if (len == 0) {
		put(out, n, "an empty extension line");
		return 0;
	}
	if (len == 4 && strncasecmp(line, "SIZE", 4) == 0) {
		explain_size(args, out, n);
		return 1;
	}
	if (len == 4 && strncasecmp(line, "AUTH", 4) == 0) {
		explain_auth(args, *args == '=', out, n);
		return 1;
	}
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (strlen(exts[i].keyword) == len &&
		    strncasecmp(line, exts[i].keyword, len) == 0) {
			put(out, n, "%s", exts[i].text);
			return 1;
		}
	}
	if (masked(line, len)) {
		put(out, n, "masked by a firewall's SMTP inspection (a Cisco "
		    "PIX/ASA turns keywords it does not allow, often STARTTLS, "
		    "into X's)");
		return 1;
	}
	if (line[0] == 'X' || line[0] == 'x')
		put(out, n, "a private (vendor) extension not known to "
		    "mailport");
	else
		put(out, n, "an extension not known to mailport");
	return 0;
}

/* verdict_banner_note - see verdict.h */
const char *verdict_banner_note(const char *text)
{
	size_t stars = 0, other = 0;
	const char *p;

	if (!text)
		return NULL;
	for (p = text; *p; p++) {
		if (*p == '*')
			stars++;
		else if (*p != ' ' && *p != '\t' && *p != '\n')
			other++;
	}
	if (stars >= 3 && stars > other)
		return "the greeting is masked with asterisks: a Cisco PIX/ASA "
		       "firewall inspects SMTP here ('fixup smtp' / 'inspect "
		       "esmtp'), which can hide extensions such as STARTTLS";
	return NULL;
}
