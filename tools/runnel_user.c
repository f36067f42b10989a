/* runnel user add|delete|list: SCRAM users (AlterUserScramCredentials 51,
 * DescribeUserScramCredentials 50), what kafka-configs.sh --entity-type users --alter
 * --add-config 'SCRAM-SHA-512=[password=...]' does. The password is read from stdin (or a
 * prompt without echo on a terminal), never from argv, and salted here (PBKDF2 with a random
 * 32-byte salt): only the salted password crosses the network, and the broker keeps only
 * StoredKey and ServerKey derived from it. */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_sasl.h"
#include "rn_str.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum { OPT_MECHANISM = 0x100, OPT_ITERATIONS };

typedef struct user_opts {
    int mech; /* RN_SCRAM_*; 0 = every mechanism (delete) */
    int32_t iterations;
} user_opts_t;

static int user_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    user_opts_t *o = ctx;
    switch (c) {
    case OPT_MECHANISM:
        o->mech = rn_scram_mech_by_name(arg, strlen(arg));
        if (o->mech == RN_SCRAM_UNKNOWN)
            return rn_cli_usage(cli, "--mechanism %s: use SCRAM-SHA-256 or SCRAM-SHA-512", arg);
        return 0;
    case OPT_ITERATIONS:
        return rn_cli_parse_i32(cli, "--iterations", arg, RN_SCRAM_MIN_ITERATIONS,
                                RN_SCRAM_MAX_ITERATIONS, &o->iterations);
    }
    return RN_CLI_EXIT_USAGE;
}

/* One line from stdin into buf without its newline; on a terminal a prompt without echo. */
static int read_password(rn_cli_t *cli, const char *user, char *buf, size_t cap)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "password for %s: ", user);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *got = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (got == NULL)
        return rn_cli_usage(cli, "no password on stdin (give it as one line)");
    size_t len = strlen(buf);
    if (len + 1 >= cap && buf[len - 1] != '\n')
        return rn_cli_usage(cli, "the password is longer than %zu bytes", cap - 2);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    if (len == 0)
        return rn_cli_usage(cli, "the password is empty");
    return 0;
}

/* The results of an AlterUserScramCredentials: 0 or the first user's error. */
static int alter_call(rn_cli_t *cli, const rn_alter_user_scram_credentials_request_t *req,
                      const char *user)
{
    int16_t v = -1;
    int st = 0;
    rn_conn_t *conn =
        rn_cli_boot_api(cli, "SCRAM users need Kafka 2.7+ or runneld",
                        RN_API_ALTER_USER_SCRAM_CREDENTIALS, "AlterUserScramCredentials", &v, &st);
    if (conn == NULL)
        return st;
    void *body;
    int err = rn_conn_call(conn, RN_API_ALTER_USER_SCRAM_CREDENTIALS, v, req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "AlterUserScramCredentials");
    const rn_alter_user_scram_credentials_response_t *resp = body;
    for (int32_t i = 0; i < resp->results.count; i++) {
        const rn_alter_user_scram_credentials_result_t *r = &resp->results.items[i];
        if (r->error_code == 0)
            continue;
        int status = r->error_code == RN_KERR_RESOURCE_NOT_FOUND
                         ? RN_CLI_EXIT_NOTFOUND
                         : rn_cli_kerr_status(r->error_code);
        return rn_cli_fail(cli, status, "user %.*s: %s%s%.*s%s", RN_STR_ARGS(r->user),
                           rn_kerr_name(r->error_code), r->error_message.len > 0 ? ": " : "",
                           RN_STR_ARGS(r->error_message), rn_cli_kerr_hint(r->error_code));
    }
    if (resp->results.count < 1)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "user %s: the broker answered without a result",
                           user);
    return 0;
}

int rn_cli_user_add(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"mechanism", required_argument, NULL, OPT_MECHANISM},
        {"iterations", required_argument, NULL, OPT_ITERATIONS},
        {NULL, 0, NULL, 0},
    };
    user_opts_t o = {RN_SCRAM_SHA_512, RN_SCRAM_MIN_ITERATIONS};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", user_opt, &o, &first);
    if (st != 0)
        return st;
    if (first + 1 != argc)
        return rn_cli_usage(cli, "name one user: runnel user add NAME");
    const char *user = argv[first];
    if (user[0] == '\0')
        return rn_cli_usage(cli, "the user name is empty");
    char password[512];
    st = read_password(cli, user, password, sizeof(password));
    if (st != 0)
        return st;
    rn_scram_cred_t cred;
    uint8_t salted[RN_SCRAM_KEY_MAX];
    int rc = rn_scram_cred_new(o.mech, password, strlen(password), o.iterations, &cred, salted);
    OPENSSL_cleanse(password, sizeof(password));
    if (rc != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "cannot salt the password: %s", rn_strerror(rc));
    rn_alter_user_scram_credentials_request_t req;
    rn_alter_user_scram_credentials_request_init(&req);
    rn_scram_credential_upsertion_t *up =
        rn_scram_credential_upsertion_array_alloc(&cli->arena, &req.upsertions, 1);
    up->name = rn_str(user);
    up->mechanism = (int8_t)o.mech;
    up->iterations = o.iterations;
    up->salt = (rn_bytes_t){cred.salt, (int32_t)cred.salt_len};
    up->salted_password = (rn_bytes_t){salted, (int32_t)rn_scram_key_len(o.mech)};
    st = alter_call(cli, &req, user);
    OPENSSL_cleanse(salted, sizeof(salted));
    if (st != 0)
        return st;
    if (cli->json)
        printf("{\"user\":\"%s\",\"mechanism\":\"%s\",\"iterations\":%d}\n", user,
               rn_scram_mech_name(o.mech), (int)o.iterations);
    else
        printf("set %s credentials of user %s (%d iterations)\n", rn_scram_mech_name(o.mech), user,
               (int)o.iterations);
    return 0;
}

int rn_cli_user_delete(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"mechanism", required_argument, NULL, OPT_MECHANISM},
        {NULL, 0, NULL, 0},
    };
    user_opts_t o = {0, 0};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", user_opt, &o, &first);
    if (st != 0)
        return st;
    if (first + 1 != argc)
        return rn_cli_usage(cli, "name one user: runnel user delete NAME");
    const char *user = argv[first];
    rn_alter_user_scram_credentials_request_t req;
    rn_alter_user_scram_credentials_request_init(&req);
    int n = o.mech != 0 ? 1 : 2;
    rn_scram_credential_deletion_t *del =
        rn_scram_credential_deletion_array_alloc(&cli->arena, &req.deletions, n);
    if (o.mech == 0) {
        /* Every mechanism the user has: ask first, since deleting one it lacks fails. */
        int16_t v = -1;
        rn_conn_t *conn = rn_cli_boot_api(cli, "SCRAM users need Kafka 2.7+ or runneld",
                                          RN_API_DESCRIBE_USER_SCRAM_CREDENTIALS,
                                          "DescribeUserScramCredentials", &v, &st);
        if (conn == NULL)
            return st;
        rn_describe_user_scram_credentials_request_t dreq;
        rn_describe_user_scram_credentials_request_init(&dreq);
        rn_user_name_t *un = rn_user_name_array_alloc(&cli->arena, &dreq.users, 1);
        un->name = rn_str(user);
        void *body;
        int err = rn_conn_call(conn, RN_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v, &dreq, &cli->arena,
                               &body);
        if (err != 0)
            return rn_cli_call_failed(cli, conn, err, "DescribeUserScramCredentials");
        const rn_describe_user_scram_credentials_response_t *resp = body;
        const rn_describe_user_scram_credentials_result_t *r =
            resp->results.count > 0 ? &resp->results.items[0] : NULL;
        if (r == NULL || r->error_code == RN_KERR_RESOURCE_NOT_FOUND)
            return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND, "user %s has no SCRAM credentials", user);
        if (r->error_code != 0)
            return rn_cli_fail(cli, rn_cli_kerr_status(r->error_code), "user %s: %s", user,
                               rn_kerr_name(r->error_code));
        n = 0;
        for (int32_t i = 0; i < r->credential_infos.count && n < 2; i++)
            del[n++] = (rn_scram_credential_deletion_t){rn_str(user),
                                                        r->credential_infos.items[i].mechanism};
        req.deletions.count = n;
    } else {
        del[0] = (rn_scram_credential_deletion_t){rn_str(user), (int8_t)o.mech};
    }
    st = alter_call(cli, &req, user);
    if (st != 0)
        return st;
    if (cli->json)
        printf("{\"user\":\"%s\",\"deleted\":%d}\n", user, n);
    else
        printf("deleted %d credential%s of user %s\n", n, n == 1 ? "" : "s", user);
    return 0;
}

int rn_cli_user_list(rn_cli_t *cli, int argc, char **argv)
{
    int first;
    int st = rn_cli_parse(cli, argc, argv, NULL, "", NULL, NULL, &first);
    if (st != 0)
        return st;
    int16_t v = -1;
    rn_conn_t *conn = rn_cli_boot_api(cli, "SCRAM users need Kafka 2.7+ or runneld",
                                      RN_API_DESCRIBE_USER_SCRAM_CREDENTIALS,
                                      "DescribeUserScramCredentials", &v, &st);
    if (conn == NULL)
        return st;
    rn_describe_user_scram_credentials_request_t req;
    rn_describe_user_scram_credentials_request_init(&req);
    int n = argc - first;
    if (n > 0) {
        rn_user_name_t *un = rn_user_name_array_alloc(&cli->arena, &req.users, n);
        for (int i = 0; i < n; i++)
            un[i].name = rn_str(argv[first + i]);
    } else {
        req.users.count = -1; /* every user */
    }
    void *body;
    int err =
        rn_conn_call(conn, RN_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "DescribeUserScramCredentials");
    const rn_describe_user_scram_credentials_response_t *resp = body;
    if (resp->error_code != 0)
        return rn_cli_fail(cli, rn_cli_kerr_status(resp->error_code), "%s: %s%s%.*s",
                           rn_cli_where(cli), rn_kerr_name(resp->error_code),
                           resp->error_message.len > 0 ? ": " : "",
                           RN_STR_ARGS(resp->error_message));
    rn_cli_json_t j;
    rn_cli_table_t t;
    static const char *const head[] = {"USER", "MECHANISM", "ITERATIONS"};
    if (cli->json) {
        rn_cli_json_init(&j, stdout);
        rn_cli_json_arr(&j);
    } else {
        rn_cli_table_init(&t, 3, head);
    }
    int missing = 0;
    for (int32_t i = 0; i < resp->results.count; i++) {
        const rn_describe_user_scram_credentials_result_t *r = &resp->results.items[i];
        if (r->error_code != 0) {
            fprintf(stderr, "runnel user list: user %.*s: %s\n", RN_STR_ARGS(r->user),
                    r->error_code == RN_KERR_RESOURCE_NOT_FOUND ? "no SCRAM credentials"
                                                                : rn_kerr_name(r->error_code));
            missing++;
            continue;
        }
        for (int32_t k = 0; k < r->credential_infos.count; k++) {
            const rn_credential_info_t *ci = &r->credential_infos.items[k];
            const char *mech = rn_scram_mech_name(ci->mechanism);
            if (cli->json) {
                rn_cli_json_obj(&j);
                rn_cli_json_key(&j, "user");
                rn_cli_json_rnstr(&j, r->user);
                rn_cli_json_key(&j, "mechanism");
                rn_cli_json_str(&j, mech ? mech : "UNKNOWN");
                rn_cli_json_key(&j, "iterations");
                rn_cli_json_int(&j, ci->iterations);
                rn_cli_json_end(&j, '}');
            } else {
                const char *cells[] = {rn_cli_fmt(cli, "%.*s", RN_STR_ARGS(r->user)),
                                       mech ? mech : "UNKNOWN",
                                       rn_cli_fmt(cli, "%d", (int)ci->iterations)};
                rn_cli_table_add(&t, cells);
            }
        }
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    else
        rn_cli_table_print(&t, stdout);
    return missing > 0 ? RN_CLI_EXIT_NOTFOUND : 0;
}
