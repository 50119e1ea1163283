#include "kl_tls.h"

#include "cm_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static EVP_PKEY *key_new(void) {
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -EIO;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -EIO;
}

/* Makes a certificate for key, signed by ca_key (self-signed when ca is NULL). */
static X509 *cert_new(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key, const char *san,
                      int is_ca) {
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    int ok = sn && X509_set_version(cert, 2) && X509_set_serialNumber(cert, sn);
    ASN1_INTEGER_free(sn);
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600) &&
         X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                          -1, 0);
    ok = ok && X509_set_issuer_name(cert, ca ? X509_get_subject_name(ca) : name);
    X509 *issuer = ca ? ca : cert;
    if (ok && is_ca)
        ok = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") == 0 &&
             add_ext(cert, issuer, NID_subject_key_identifier, "hash") == 0;
    if (ok && !is_ca)
        ok = add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0 &&
             add_ext(cert, issuer, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always") == 0 &&
             add_ext(cert, issuer, NID_subject_alt_name, san) == 0;
    ok = ok && X509_sign(cert, ca_key ? ca_key : key, EVP_sha256());
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static int write_pem(const char *dir, const char *file, X509 *cert, EVP_PKEY *key) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    if (key)
        fchmod(fileno(f), 0600);
    int ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok)
        return -EIO;
    return 0;
}

static int load_ca(const char *dir, X509 **ret_cert, EVP_PKEY **ret_key) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -ENOENT;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    f = fopen(path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!cert || !key || X509_check_private_key(cert, key) != 1) {
        X509_free(cert);
        EVP_PKEY_free(key);
        ERR_clear_error();
        return -EINVAL;
    }
    *ret_cert = cert;
    *ret_key = key;
    return 0;
}

int kl_tls_setup(const char *dir, const char *extra_san, SSL_CTX **ret_ctx) {
    X509 *ca = NULL, *srv = NULL;
    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    SSL_CTX *ctx = NULL;
    int r;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (load_ca(dir, &ca, &ca_key) < 0) {
        ca_key = key_new();
        ca = ca_key ? cert_new(ca_key, "kube-lite-ca", NULL, NULL, NULL, 1) : NULL;
        if (!ca) {
            r = -EIO;
            goto out;
        }
        if ((r = write_pem(dir, "ca.key", NULL, ca_key)) < 0 ||
            (r = write_pem(dir, "ca.crt", ca, NULL)) < 0)
            goto out;
    }
    char san[512];
    int n = snprintf(san, sizeof(san), "DNS:localhost,DNS:kube-lite,IP:127.0.0.1,IP:::1");
    if (extra_san && *extra_san && strcmp(extra_san, "127.0.0.1") != 0 &&
        strcmp(extra_san, "localhost") != 0 && strcmp(extra_san, "0.0.0.0") != 0 &&
        strcmp(extra_san, "::") != 0 && strlen(extra_san) < 200) {
        unsigned char buf[16];
        int is_ip = inet_pton(AF_INET, extra_san, buf) == 1 || inet_pton(AF_INET6, extra_san, buf) == 1;
        snprintf(san + n, sizeof(san) - (size_t)n, ",%s:%s", is_ip ? "IP" : "DNS", extra_san);
    }
    srv_key = key_new();
    srv = srv_key ? cert_new(srv_key, "kube-lite", ca, ca_key, san, 0) : NULL;
    if (!srv) {
        r = -EIO;
        goto out;
    }
    if ((r = write_pem(dir, "server.key", NULL, srv_key)) < 0 ||
        (r = write_pem(dir, "server.crt", srv, NULL)) < 0)
        goto out;
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate(ctx, srv) != 1 || SSL_CTX_add1_chain_cert(ctx, ca) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, srv_key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        r = -EIO;
        goto out;
    }
    /* Sessions are resumed by Go clients that reconnect; a cache makes that cheap. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    *ret_ctx = ctx;
    ctx = NULL;
    r = 0;
out:
    if (r < 0) {
        unsigned long e = ERR_get_error();
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        cm_debug("kl_tls_setup: %s", buf);
        ERR_clear_error();
    }
    SSL_CTX_free(ctx);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    return r;
}
