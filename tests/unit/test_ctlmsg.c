/* SPDX-License-Identifier: MIT */
/*
 * test_ctlmsg.c - the control protocol's codec: every request kind taken
 * when valid and refused, with its own code and a sentence, when an
 * argument is missing, of the wrong type, too long or not UTF-8; integers
 * exact; replies and events written exactly.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"

/* ---- helpers ---- */

static int dec(ctl_request *q, const char *line, char *why)
{
    size_t n = strlen(line);
    char *copy = malloc(n ? n : 1); /* exactly sized: ASan sees overreads */
    assert_non_null(copy);
    memcpy(copy, line, n);
    int r = ctlmsg_decode(q, copy, n, why, CTL_WHY_CAP);
    free(copy);
    return r;
}

/* The line must be refused with want, leaving a sentence and nothing to clear. */
static void refused_at(const char *line, int want, const char *has, int at)
{
    ctl_request q;
    char why[CTL_WHY_CAP];
    memset(&q, 0x5a, sizeof q);
    int r = dec(&q, line, why);
    if (r != want)
        fail_msg("line %d: %.200s: got %s (%s), want %s", at, line, banter_errname(r), why,
                 banter_errname(want));
    if (!why[0])
        fail_msg("line %d: %.200s: no reason given", at, line);
    if (has && !strstr(why, has))
        fail_msg("line %d: %.200s: reason \"%s\" lacks \"%s\"", at, line, why, has);
    static const ctl_request zero;
    assert_memory_equal(&q, &zero, sizeof q); /* wiped, nothing owned */
}
#define REFUSED(line, want, has) refused_at(line, want, has, __LINE__)

static void taken_at(ctl_request *q, const char *line, int at)
{
    char why[CTL_WHY_CAP];
    int r = dec(q, line, why);
    if (r != 0)
        fail_msg("line %d: %.200s: got %s: %s", at, line, banter_errname(r), why);
}
#define TAKEN(q, line) taken_at(q, line, __LINE__)

/* n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static char *print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    assert_non_null(s);
    return s;
}

/* ---- every kind, every argument ---- */

typedef enum aclass { A_STR, A_TEXT, A_INT, A_BOOL, A_ARR, A_OBJ } aclass;

struct targ {
    const char *name;
    aclass type;
    bool required;
    size_t max; /* strings: longest taken; 0: not a length rule */
    char fill;  /* the byte a too-long value is made of */
};

static const struct tkind {
    ctl_kind kind;
    const char *valid;
    struct targ args[4];
} tkinds[] = {
    {CTL_ID, "{\"cmd\":\"id\"}", {{0}}},
    {CTL_PEERS, "{\"cmd\":\"peers\"}", {{0}}},
    {CTL_SEND,
     "{\"cmd\":\"send\",\"peer\":\"bob\",\"text\":\"hi\",\"wait\":5000,\"wait_offline\":true}",
     {{"peer", A_STR, true, BANTER_CTL_MAX_PEER, 'b'},
      {"text", A_TEXT, true, BANTER_MAX_BODY, 't'},
      {"wait", A_INT, false, 0, 0},
      {"wait_offline", A_BOOL, false, 0, 0}}},
    {CTL_BROADCAST,
     "{\"cmd\":\"broadcast\",\"text\":\"fire drill\"}",
     {{"text", A_TEXT, true, BANTER_MAX_BODY, 't'}}},
    {CTL_HISTORY,
     "{\"cmd\":\"history\",\"peer\":\"07251 62508\",\"limit\":7,\"before\":42}",
     {{"peer", A_STR, true, BANTER_CTL_MAX_PEER, '1'},
      {"limit", A_INT, false, 0, 0},
      {"before", A_INT, false, 0, 0}}},
    {CTL_VERIFY,
     "{\"cmd\":\"verify\",\"peer\":\"@bob\"}",
     {{"peer", A_STR, true, BANTER_CTL_MAX_PEER, 'b'}}},
    {CTL_LISTEN, "{\"cmd\":\"listen\"}", {{0}}},
    {CTL_SEND_FILE,
     "{\"cmd\":\"send_file\",\"peer\":\"bob\",\"paths\":[\"/a\",\"/b c\"],\"follow\":true}",
     {{"peer", A_STR, true, BANTER_CTL_MAX_PEER, 'b'},
      {"paths", A_ARR, true, 0, 0},
      {"follow", A_BOOL, false, 0, 0}}},
    {CTL_TRANSFERS,
     "{\"cmd\":\"transfers\",\"limit\":10,\"before\":\"1a2b3c4d5e6f708192a3b4c5d6e7f809\"}",
     {{"limit", A_INT, false, 0, 0}, {"before", A_STR, false, 32, 'f'}}},
    {CTL_ACCEPT,
     "{\"cmd\":\"accept\",\"id\":\"1a2B\",\"to\":\"/home/ada/in\"}",
     {{"id", A_STR, true, 32, 'a'}, {"to", A_STR, false, BANTER_CTL_MAX_ABS_PATH, '/'}}},
    {CTL_DECLINE,
     "{\"cmd\":\"decline\",\"id\":\"1a2b3c4d5e6f708192a3b4c5d6e7f809\"}",
     {{"id", A_STR, true, 32, 'f'}}},
    {CTL_CANCEL, "{\"cmd\":\"cancel\",\"id\":\"0\"}", {{"id", A_STR, true, 32, '0'}}},
    {CTL_SETTINGS_GET, "{\"cmd\":\"settings_get\"}", {{0}}},
    {CTL_SETTINGS_SET,
     "{\"cmd\":\"settings_set\",\"settings\":{\"theme\":\"dark\",\"font_size\":16,\"sound\":"
     "false,\"notify\":true,\"read\":{\"07251 62508\":1795303925123,\"x\":null}}}",
     {{"settings", A_OBJ, true, 0, 0}}},
    {CTL_WEB, "{\"cmd\":\"web\"}", {{0}}},
    {CTL_RENDEZVOUS, "{\"cmd\":\"rendezvous\"}", {{0}}},
    {CTL_LOGIN,
     "{\"cmd\":\"login\",\"user\":\"ada.l\",\"password\":\"correct horse\"}",
     {{"user", A_STR, true, BANTER_MAX_NAME, 'a'},
      {"password", A_STR, true, RV_PASSWORD_MAX, 'p'}}},
    {CTL_LOGOUT, "{\"cmd\":\"logout\"}", {{0}}},
    {CTL_PROFILE_SET,
     "{\"cmd\":\"profile_set\",\"field\":\"about\",\"value\":\"line 1\\nline 2\"}",
     {{"field", A_STR, true, 0, 0}, {"value", A_STR, true, RV_VALUE_MAX, 'v'}}},
    {CTL_SEARCH,
     "{\"cmd\":\"search\",\"criteria\":[\"department=Research\",\"display_name~ada\"],\"page\":"
     "2,\"per_page\":50}",
     {{"criteria", A_ARR, true, 0, 0},
      {"page", A_INT, false, 0, 0},
      {"per_page", A_INT, false, 0, 0}}},
    {CTL_CONTACTS, "{\"cmd\":\"contacts\"}", {{0}}},
    {CTL_REQUESTS, "{\"cmd\":\"requests\"}", {{0}}},
    {CTL_CONTACT,
     "{\"cmd\":\"contact\",\"op\":\"block\",\"user\":\"bob\"}",
     {{"op", A_STR, true, 0, 0}, {"user", A_STR, true, BANTER_MAX_NAME, 'b'}}},
    {CTL_STATUS,
     "{\"cmd\":\"status\",\"status\":\"away\",\"text\":\"at lunch\"}",
     {{"status", A_STR, true, 0, 0}, {"text", A_STR, false, RV_TEXT_MAX, 'x'}}},
    {CTL_ORG_BROADCAST,
     "{\"cmd\":\"org_broadcast\",\"text\":\"all hands\",\"department\":\"R&D\"}",
     {{"text", A_TEXT, true, BANTER_MAX_BODY, 't'}, {"department", A_STR, false, 64, 'd'}}},
    {CTL_PLUGINS,
     "{\"cmd\":\"plugins\",\"action\":\"list\",\"name\":\"echo\"}",
     {{"action", A_STR, false, 0, 0}, {"name", A_STR, false, CTL_PLUGIN_NAME_MAX, 'e'}}},
    {CTL_GROUPS, "{\"cmd\":\"groups\"}", {{0}}},
    {CTL_GROUP_CREATE,
     "{\"cmd\":\"group_create\",\"name\":\"launch\",\"members\":[\"@bob\",\"carol\"]}",
     {{"name", A_STR, true, BANTER_MAX_NAME, 'n'}, {"members", A_ARR, false, 0, 0}}},
    {CTL_GROUP_INVITE,
     "{\"cmd\":\"group_invite\",\"group\":\"launch\",\"members\":[\"@erin\"]}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}, {"members", A_ARR, true, 0, 0}}},
    {CTL_GROUP_REMOVE,
     "{\"cmd\":\"group_remove\",\"group\":\"launch\",\"member\":\"@dave\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'},
      {"member", A_STR, true, BANTER_CTL_MAX_PEER, 'm'}}},
    {CTL_GROUP_LEAVE,
     "{\"cmd\":\"group_leave\",\"group\":\"launch\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}}},
    {CTL_GROUP_RENAME,
     "{\"cmd\":\"group_rename\",\"group\":\"launch\",\"name\":\"launch 2\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'},
      {"name", A_STR, true, BANTER_MAX_NAME, 'n'}}},
    {CTL_GROUP_ADMIN,
     "{\"cmd\":\"group_admin\",\"group\":\"launch\",\"member\":\"@bob\",\"admin\":false}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'},
      {"member", A_STR, true, BANTER_CTL_MAX_PEER, 'm'},
      {"admin", A_BOOL, true, 0, 0}}},
    {CTL_GROUP_MEMBERS,
     "{\"cmd\":\"group_members\",\"group\":\"0707\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}}},
    {CTL_GROUP_SEND,
     "{\"cmd\":\"group_send\",\"group\":\"launch\",\"text\":\"ship it\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'},
      {"text", A_TEXT, true, BANTER_MAX_BODY, 't'}}},
    {CTL_GROUP_HISTORY,
     "{\"cmd\":\"group_history\",\"group\":\"launch\",\"limit\":9}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}, {"limit", A_INT, false, 0, 0}}},
    {CTL_GROUP_READ,
     "{\"cmd\":\"group_read\",\"group\":\"launch\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}}},
    {CTL_GROUP_DELETE,
     "{\"cmd\":\"group_delete\",\"group\":\"launch\"}",
     {{"group", A_STR, true, BANTER_CTL_MAX_PEER, 'g'}}},
    {CTL_FIND,
     "{\"cmd\":\"find\",\"text\":\"budget\",\"limit\":5,\"before\":77}",
     {{"text", A_STR, true, CTL_MAX_FIND, 'w'},
      {"limit", A_INT, false, 0, 0},
      {"before", A_INT, false, 0, 0}}},
    {CTL_NAT_CHECK, "{\"cmd\":\"nat_check\"}", {{0}}},
    {CTL_ANNOUNCEMENTS,
     "{\"cmd\":\"announcements\",\"limit\":20,\"unread\":true}",
     {{"limit", A_INT, false, 0, 0}, {"unread", A_BOOL, false, 0, 0}}},
    {CTL_ANNOUNCEMENT_READ,
     "{\"cmd\":\"announcement_read\",\"id\":7}",
     {{"id", A_INT, true, 0, 0}}},
    {CTL_DOCTOR,
     "{\"cmd\":\"doctor\",\"peer\":\"@bob\"}",
     {{"peer", A_STR, false, BANTER_CTL_MAX_PEER, 'p'}}},
};

/* The valid request of t with member name replaced by v (NULL: removed). */
static char *mutate(const struct tkind *t, const char *name, cJSON *v)
{
    cJSON *o = cJSON_Parse(t->valid);
    assert_non_null(o);
    if (v)
        cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
    else
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    char *s = print(o);
    cJSON_Delete(o);
    return s;
}

static void check_refused(const struct tkind *t, const char *name, cJSON *v, int want,
                          const char *what)
{
    char *line = mutate(t, name, v);
    ctl_request q;
    char why[CTL_WHY_CAP];
    int r = dec(&q, line, why);
    if (r != want)
        fail_msg("%s, %s %s: got %s (%s), want %s", ctl_kind_name(t->kind), name, what,
                 banter_errname(r), why, banter_errname(want));
    if (!why[0] || (want != BANTER_EUTF8 && !strstr(why, name)))
        fail_msg("%s, %s %s: the reason \"%s\" does not name it", ctl_kind_name(t->kind), name,
                 what, why);
    cJSON_free(line);
}

/* Values of every JSON type but the argument's own. */
static void wrong_types(const struct tkind *t, const struct targ *a)
{
    cJSON *vals[] = {cJSON_CreateString("x"), cJSON_CreateNumber(5), cJSON_CreateTrue(),
                     cJSON_CreateNull(),      cJSON_CreateArray(),   cJSON_CreateObject()};
    bool is_str = a->type == A_STR || a->type == A_TEXT;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        bool own = (i == 0 && is_str) || (i == 1 && a->type == A_INT) ||
                   (i == 2 && a->type == A_BOOL) || (i == 4 && a->type == A_ARR) ||
                   (i == 5 && a->type == A_OBJ);
        if (own) {
            cJSON_Delete(vals[i]);
            continue;
        }
        check_refused(t, a->name, vals[i], BANTER_EINVAL, "of a wrong type");
    }
}

static void test_every_kind(void **state)
{
    (void)state;
    assert_int_equal(sizeof tkinds / sizeof tkinds[0], CTL_KIND_COUNT);
    for (size_t k = 0; k < sizeof tkinds / sizeof tkinds[0]; k++) {
        const struct tkind *t = &tkinds[k];
        ctl_request q;
        TAKEN(&q, t->valid);
        assert_int_equal(q.kind, t->kind);
        ctl_request_clear(&q);
        for (size_t i = 0; i < 4 && t->args[i].name; i++) {
            const struct targ *a = &t->args[i];
            /* missing */
            if (a->required) {
                check_refused(t, a->name, NULL, BANTER_EINVAL, "missing");
            } else {
                char *line = mutate(t, a->name, NULL);
                TAKEN(&q, line);
                ctl_request_clear(&q);
                cJSON_free(line);
            }
            wrong_types(t, a);
            if (a->type != A_STR && a->type != A_TEXT)
                continue;
            /* not UTF-8: the whole request is refused for it */
            check_refused(t, a->name, cJSON_CreateString("caf\xc3"), BANTER_EUTF8, "not UTF-8");
            check_refused(t, a->name, cJSON_CreateString("\xed\xa0\x80"), BANTER_EUTF8,
                          "a surrogate");
            if (!a->max)
                continue;
            /* the longest taken, and one byte more refused */
            char *s = repeat(a->fill, a->max);
            char *line = mutate(t, a->name, cJSON_CreateString(s));
            TAKEN(&q, line);
            ctl_request_clear(&q);
            cJSON_free(line);
            char *longer = repeat(a->fill, a->max + 1);
            check_refused(t, a->name, cJSON_CreateString(longer),
                          a->type == A_TEXT ? BANTER_ETOOLONG : BANTER_EINVAL, "too long");
            free(s);
            free(longer);
        }
    }
}

/* ---- what a valid request holds ---- */

static void test_values(void **state)
{
    (void)state;
    ctl_request q;
    TAKEN(&q, tkinds[2].valid); /* send */
    assert_string_equal(q.u.send.peer, "bob");
    assert_string_equal(q.u.send.text.s, "hi");
    assert_int_equal(q.u.send.text.len, 2);
    assert_true(q.u.send.wait_ms == 5000 && q.u.send.wait_offline);
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"send\",\"peer\":\"b\",\"text\":\"line\\nnext\\u00e9\"}");
    assert_string_equal(q.u.send.text.s, "line\nnext\xc3\xa9");
    assert_true(q.u.send.wait_ms == 0 && !q.u.send.wait_offline); /* defaults */
    ctl_request_clear(&q);

    TAKEN(&q, "{\"cmd\":\"history\",\"peer\":\"bob\"}");
    assert_true(q.u.history.limit == 50 && q.u.history.before == 0);
    ctl_request_clear(&q);
    TAKEN(&q, tkinds[4].valid);
    assert_string_equal(q.u.history.peer, "07251 62508");
    assert_true(q.u.history.limit == 7 && q.u.history.before == 42);
    ctl_request_clear(&q);
    /* "#ID" names a contact by its key */
    TAKEN(&q, "{\"cmd\":\"verify\",\"peer\":\"#0123456789abcdef0123456789abcdef0123456789abcdef01"
              "23456789abcdef\"}");
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[7].valid); /* send_file */
    assert_int_equal(q.u.send_file.npaths, 2);
    assert_string_equal(q.u.send_file.paths[1].s, "/b c");
    assert_true(q.u.send_file.follow);
    ctl_request_clear(&q);

    TAKEN(&q, "{\"cmd\":\"group_create\",\"name\":\"launch\",\"members\":[\"@bob\",\"carol\"]}");
    assert_string_equal(q.u.group.name, "launch");
    assert_int_equal(q.u.group.nmembers, 2);
    assert_string_equal(q.u.group.members[1], "carol");
    ctl_request_clear(&q);
    REFUSED("{\"cmd\":\"group_invite\",\"group\":\"g\",\"members\":[]}", BANTER_EINVAL, "members");
    REFUSED("{\"cmd\":\"group_invite\",\"group\":\"g\",\"members\":[\"a\\tb\"]}", BANTER_EINVAL,
            "members");
    REFUSED("{\"cmd\":\"group_create\",\"name\":\"g\",\"members\":[\"\"]}", BANTER_EINVAL,
            "members");
    TAKEN(&q, "{\"cmd\":\"group_history\",\"group\":\"g\"}");
    assert_int_equal(q.u.group.limit, 50);
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"find\",\"text\":\"b\"}");
    assert_true(q.u.find.limit == 20 && q.u.find.before == 0);
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[9].valid); /* accept */
    assert_string_equal(q.u.xfer.id, "1a2B");
    assert_string_equal(q.u.xfer.to.s, "/home/ada/in");
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"accept\",\"id\":\"ab\"}");
    assert_null(q.u.xfer.to.s);
    ctl_request_clear(&q);
    /* "to" is accept's only: decline ignores it like any unknown member */
    TAKEN(&q, "{\"cmd\":\"decline\",\"id\":\"ab\",\"to\":5}");
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[13].valid); /* settings_set */
    const struct ctl_settings_set *s = &q.u.settings;
    assert_int_equal(s->has, CTL_SET_THEME | CTL_SET_FONT_SIZE | CTL_SET_SOUND | CTL_SET_NOTIFY |
                                 CTL_SET_READ);
    assert_int_equal(s->theme, CTL_THEME_DARK);
    assert_true(s->font_size == 16 && !s->sound && s->notify);
    assert_int_equal(s->nread, 2);
    assert_string_equal(s->read[0].key, "07251 62508");
    assert_true(s->read[0].ts == INT64_C(1795303925123) && !s->read[0].remove);
    assert_true(s->read[1].remove);
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"settings_set\",\"settings\":{}}");
    assert_int_equal(q.u.settings.has, 0);
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[16].valid); /* login */
    assert_string_equal(q.u.login.user, "ada.l");
    assert_string_equal(q.u.login.password, "correct horse");
    ctl_request_clear(&q);
    static const ctl_request zero;
    assert_memory_equal(&q, &zero, sizeof q); /* the password is wiped */

    TAKEN(&q, tkinds[18].valid); /* profile_set */
    assert_int_equal(q.u.profile.field, RV_F_ABOUT);
    assert_string_equal(q.u.profile.value.s, "line 1\nline 2");
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"profile_set\",\"field\":\"title\",\"value\":\"\"}"); /* clears */
    assert_int_equal(q.u.profile.value.len, 0);
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[19].valid); /* search */
    assert_int_equal(q.u.search.n, 2);
    assert_int_equal(q.u.search.c[0].field, RV_F_DEPARTMENT);
    assert_false(q.u.search.c[0].contains);
    assert_string_equal(q.u.search.c[0].value, "Research");
    assert_true(q.u.search.c[1].contains);
    assert_true(q.u.search.page == 2 && q.u.search.per_page == 50);
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"search\",\"criteria\":[\"user=a=b~c\"]}");
    assert_int_equal(q.u.search.c[0].field, RV_F_COUNT); /* the account name */
    assert_string_equal(q.u.search.c[0].value, "a=b~c"); /* the first = or ~ ends FIELD */
    assert_true(q.u.search.page == 0 && q.u.search.per_page == 20);
    ctl_request_clear(&q);

    TAKEN(&q, tkinds[22].valid); /* contact */
    assert_int_equal(q.u.contact.op, RV_OP_BLOCK);
    assert_string_equal(q.u.contact.user, "bob");
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"status\",\"status\":\"invisible\"}");
    assert_int_equal(q.u.status.status, RV_P_INVISIBLE);
    assert_string_equal(q.u.status.text, "");
    ctl_request_clear(&q);
    TAKEN(&q, tkinds[24].valid); /* org_broadcast */
    assert_string_equal(q.u.org_broadcast.department, "R&D");
    ctl_request_clear(&q);
}

/* ---- the rules of each argument ---- */

static void test_argument_rules(void **state)
{
    (void)state;
    /* peer: one line of text */
    REFUSED("{\"cmd\":\"verify\",\"peer\":\"\"}", BANTER_EINVAL, "\"peer\"");
    REFUSED("{\"cmd\":\"verify\",\"peer\":\"a\\nb\"}", BANTER_EINVAL, "\"peer\"");
    REFUSED("{\"cmd\":\"verify\",\"peer\":\"a\\u007f\"}", BANTER_EINVAL, "\"peer\"");
    /* plugins: the action is one of three; enable and disable name one */
    REFUSED("{\"cmd\":\"plugins\",\"action\":\"reload\"}", BANTER_EINVAL, "\"action\"");
    REFUSED("{\"cmd\":\"plugins\",\"action\":\"restart\"}", BANTER_EINVAL, "\"name\"");
    REFUSED("{\"cmd\":\"plugins\",\"action\":\"enable\"}", BANTER_EINVAL, "\"name\"");
    REFUSED("{\"cmd\":\"plugins\",\"action\":\"disable\",\"name\":\"\"}", BANTER_EINVAL,
            "\"name\"");
    /* text: empty, too long */
    REFUSED("{\"cmd\":\"send\",\"peer\":\"b\",\"text\":\"\"}", BANTER_EINVAL, "empty");
    REFUSED("{\"cmd\":\"broadcast\",\"text\":\"\"}", BANTER_EINVAL, "empty");
    REFUSED("{\"cmd\":\"org_broadcast\",\"text\":\"\"}", BANTER_EINVAL, "empty");
    /* paths */
    REFUSED("{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[]}", BANTER_EINVAL, "\"paths\"");
    REFUSED("{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[\"rel/x\"]}", BANTER_EINVAL,
            "absolute");
    REFUSED("{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[\"/a\",7]}", BANTER_EINVAL,
            "\"paths\"");
    REFUSED("{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[\"\"]}", BANTER_EINVAL, "\"paths\"");
    char *p = repeat('/', BANTER_CTL_MAX_ABS_PATH + 1), line[8192];
    snprintf(line, sizeof line, "{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[\"%s\"]}", p);
    REFUSED(line, BANTER_EINVAL, "4096");
    p[BANTER_CTL_MAX_ABS_PATH] = '\0';
    snprintf(line, sizeof line, "{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[\"%s\"]}", p);
    ctl_request q;
    TAKEN(&q, line);
    ctl_request_clear(&q);
    free(p);
    size_t o =
        (size_t)snprintf(line, sizeof line, "{\"cmd\":\"send_file\",\"peer\":\"b\",\"paths\":[");
    for (unsigned i = 0; i <= BANTER_CTL_MAX_PATHS; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s\"/%u\"", i ? "," : "", i);
    snprintf(line + o, sizeof line - o, "]}");
    REFUSED(line, BANTER_EINVAL, "256");
    /* transfer ids: 1..32 hex digits */
    REFUSED("{\"cmd\":\"cancel\",\"id\":\"\"}", BANTER_EINVAL, "hex");
    REFUSED("{\"cmd\":\"cancel\",\"id\":\"12g4\"}", BANTER_EINVAL, "\"12g4\"");
    REFUSED("{\"cmd\":\"accept\",\"id\":\"12\",\"to\":\"down\"}", BANTER_EINVAL, "\"to\"");
    /* accounts, passwords */
    REFUSED("{\"cmd\":\"login\",\"user\":\"Ada\",\"password\":\"x\"}", BANTER_EINVAL, "a-z");
    REFUSED("{\"cmd\":\"login\",\"user\":\"ada\",\"password\":\"\"}", BANTER_EINVAL, "1024");
    REFUSED("{\"cmd\":\"contact\",\"op\":\"request\",\"user\":\"bo b\"}", BANTER_EINVAL,
            "\"user\"");
    REFUSED("{\"cmd\":\"contact\",\"op\":\"befriend\",\"user\":\"bob\"}", BANTER_EINVAL, "unblock");
    /* profile: the field's own length and plain text except "about" */
    REFUSED("{\"cmd\":\"profile_set\",\"field\":\"user\",\"value\":\"x\"}", BANTER_EINVAL,
            "display_name");
    REFUSED("{\"cmd\":\"profile_set\",\"field\":\"title\",\"value\":\"a\\nb\"}", BANTER_EINVAL,
            "control");
    p = repeat('x', 33);
    snprintf(line, sizeof line, "{\"cmd\":\"profile_set\",\"field\":\"phone\",\"value\":\"%s\"}",
             p);
    REFUSED(line, BANTER_EINVAL, "32 bytes");
    p[32] = '\0';
    snprintf(line, sizeof line, "{\"cmd\":\"profile_set\",\"field\":\"phone\",\"value\":\"%s\"}",
             p);
    TAKEN(&q, line);
    ctl_request_clear(&q);
    free(p);
    /* search criteria */
    REFUSED("{\"cmd\":\"search\",\"criteria\":[]}", BANTER_EINVAL, "1 to 8");
    REFUSED("{\"cmd\":\"search\",\"criteria\":[\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\",\"a=1\","
            "\"a=1\",\"a=1\",\"a=1\"]}",
            BANTER_EINVAL, "1 to 8");
    REFUSED("{\"cmd\":\"search\",\"criteria\":[\"nofield\"]}", BANTER_EINVAL, "FIELD=VALUE");
    REFUSED("{\"cmd\":\"search\",\"criteria\":[\"shoe=9\"]}", BANTER_EINVAL, "unknown field");
    REFUSED("{\"cmd\":\"search\",\"criteria\":[\"user=\"]}", BANTER_EINVAL, "1 to 128");
    REFUSED("{\"cmd\":\"search\",\"criteria\":[\"user=a\\tb\"]}", BANTER_EINVAL, "control");
    /* status */
    REFUSED("{\"cmd\":\"status\",\"status\":\"offline\"}", BANTER_EINVAL, "invisible");
    REFUSED("{\"cmd\":\"status\",\"status\":\"away\",\"text\":\"a\\nb\"}", BANTER_EINVAL,
            "one line");
}

static void test_settings_rules(void **state)
{
    (void)state;
#define SET(body) "{\"cmd\":\"settings_set\",\"settings\":" body "}"
    REFUSED(SET("{\"colour\":\"red\"}"), BANTER_EINVAL, "\"colour\"");
    REFUSED(SET("{\"theme\":\"blue\"}"), BANTER_EINVAL, "\"theme\"");
    REFUSED(SET("{\"font_size\":11}"), BANTER_EINVAL, "12 to 24");
    REFUSED(SET("{\"font_size\":25}"), BANTER_EINVAL, "12 to 24");
    REFUSED(SET("{\"font_size\":16.0}"), BANTER_EINVAL, "12 to 24");
    REFUSED(SET("{\"font_size\":1.6e1}"), BANTER_EINVAL, "12 to 24");
    REFUSED(SET("{\"sound\":1}"), BANTER_EINVAL, "\"sound\"");
    REFUSED(SET("{\"theme\":\"dark\",\"theme\":\"light\"}"), BANTER_EINVAL, "once");
    REFUSED(SET("{\"read\":[1]}"), BANTER_EINVAL, "\"read\"");
    REFUSED(SET("{\"read\":{\"\":1}}"), BANTER_EINVAL, "printable");
    REFUSED(SET("{\"read\":{\"caf\\u00e9\":1}}"), BANTER_EINVAL, "printable");
    REFUSED(SET("{\"read\":{\"a\":-1}}"), BANTER_EINVAL, "2^53");
    REFUSED(SET("{\"read\":{\"a\":1.5}}"), BANTER_EINVAL, "2^53");
    REFUSED(SET("{\"read\":{\"a\":9007199254740993}}"), BANTER_EINVAL, "2^53");
    REFUSED(SET("{\"read\":{\"a\":\"1\"}}"), BANTER_EINVAL, "2^53");
    REFUSED(SET("{\"read\":{\"a\":1,\"a\":2}}"), BANTER_EINVAL, "once");
    ctl_request q;
    TAKEN(&q, SET("{\"read\":{\"a\":9007199254740992}}"));
    assert_true(q.u.settings.read[0].ts == INT64_C(9007199254740992));
    ctl_request_clear(&q);
    /* at most BANTER_CTL_MAX_READ_SET marks at once */
    char line[4096];
    size_t o =
        (size_t)snprintf(line, sizeof line, "{\"cmd\":\"settings_set\",\"settings\":{\"read\":{");
    for (unsigned i = 0; i < BANTER_CTL_MAX_READ_SET; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%s\"k%u\":%u", i ? "," : "", i, i);
    snprintf(line + o, sizeof line - o, "}}}");
    TAKEN(&q, line);
    assert_int_equal(q.u.settings.nread, BANTER_CTL_MAX_READ_SET);
    ctl_request_clear(&q);
    snprintf(line + o, sizeof line - o, ",\"k%u\":1}}}", BANTER_CTL_MAX_READ_SET);
    REFUSED(line, BANTER_EINVAL, "at most 32");
#undef SET
}

/* ---- integers are exact (docs/protocol.md 6.1) ---- */

static void test_integers(void **state)
{
    (void)state;
    static const struct {
        const char *pre, *post;
        int64_t min, max;
    } fields[] = {
        {"{\"cmd\":\"send\",\"peer\":\"b\",\"text\":\"t\",\"wait\":", "}", 0, 600000},
        {"{\"cmd\":\"history\",\"peer\":\"b\",\"limit\":", "}", 1, 100000},
        {"{\"cmd\":\"history\",\"peer\":\"b\",\"before\":", "}", 0, INT64_C(9007199254740992)},
        {"{\"cmd\":\"search\",\"criteria\":[\"user=a\"],\"page\":", "}", 0, 1000000},
        {"{\"cmd\":\"search\",\"criteria\":[\"user=a\"],\"per_page\":", "}", 1, 100},
        {"{\"cmd\":\"settings_set\",\"settings\":{\"font_size\":", "}}", 12, 24},
        {"{\"cmd\":\"settings_set\",\"settings\":{\"read\":{\"k\":", "}}}", 0,
         INT64_C(9007199254740992)},
    };
    static const struct {
        const char *text;
        int want;
    } bad[] = {
        {"9007199254740993", BANTER_EINVAL},
        {"9223372036854775808", BANTER_EINVAL},
        {"-9223372036854775809", BANTER_EINVAL},
        {"1e3", BANTER_EINVAL},
        {"1.0", BANTER_EINVAL},
        {"-0", BANTER_EINVAL},
        {"-1", BANTER_EINVAL},
        {"0100", BANTER_EJSON},
        {"1.", BANTER_EJSON},
        {"+5", BANTER_EJSON},
    };
    char line[512], why[CTL_WHY_CAP];
    ctl_request q;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            snprintf(line, sizeof line, "%s%s%s", fields[f].pre, bad[i].text, fields[f].post);
            REFUSED(line, bad[i].want, NULL);
        }
        int64_t ends[] = {fields[f].min, fields[f].max};
        for (int e = 0; e < 2; e++) {
            snprintf(line, sizeof line, "%s%" PRId64 "%s", fields[f].pre, ends[e], fields[f].post);
            TAKEN(&q, line);
            ctl_request_clear(&q);
        }
        snprintf(line, sizeof line, "%s%" PRId64 "%s", fields[f].pre, fields[f].max + 1,
                 fields[f].post);
        REFUSED(line, BANTER_EINVAL, NULL);
        snprintf(line, sizeof line, "%s%" PRId64 "%s", fields[f].pre, fields[f].min - 1,
                 fields[f].post);
        REFUSED(line, BANTER_EINVAL, NULL);
    }
    /* The reason quotes the number as written. */
    assert_int_equal(dec(&q, "{\"cmd\":\"send\",\"peer\":\"b\",\"text\":\"t\",\"wait\":1e3}", why),
                     BANTER_EINVAL);
    assert_non_null(strstr(why, "not 1e3"));
}

/* ---- the line as a whole ---- */

static void test_lines(void **state)
{
    (void)state;
    REFUSED("this is {not json", BANTER_EJSON, "JSON");
    REFUSED("[1,2,3]", BANTER_EJSON, "object");
    REFUSED("\"cmd\"", BANTER_EJSON, "object");
    REFUSED("", BANTER_EJSON, "object");
    REFUSED("{\"cmd\":\"id\"} {}", BANTER_EJSON, "object");
    REFUSED("{\"cmd\":\"id\",\"cmd\":\"peers\"}", BANTER_EJSON, "once");
    REFUSED("{\"cmd\":\"id\",\"x\":[[[[[[[[1]]]]]]]]}", BANTER_EJSON, "nested");
    REFUSED("{\"cmd\":\"id\",\"x\":\"\\u0000\"}", BANTER_EJSON, NULL);
    REFUSED("{\"cmd\":\"id\",\"x\":\"\\ud800\"}", BANTER_EJSON, NULL);
    REFUSED("{\"cmd\":\"id\",\"x\":\"caf\xc3\"}", BANTER_EUTF8, "UTF-8");
    REFUSED("\xef\xbb\xbf{\"cmd\":\"id\"}", BANTER_EJSON, NULL);
    REFUSED("{\"x\":1}", BANTER_ESCHEMA, "\"cmd\"");
    REFUSED("{\"cmd\":5}", BANTER_ESCHEMA, "\"cmd\"");
    REFUSED("{\"cmd\":null}", BANTER_ESCHEMA, "\"cmd\"");
    REFUSED("{\"cmd\":\"nope\"}", BANTER_EBADTYPE, "unknown command \"nope\"");
    REFUSED("{\"cmd\":\"ID\"}", BANTER_EBADTYPE, "\"ID\"");
    REFUSED("{\"cmd\":\"id\\u0007\"}", BANTER_EBADTYPE, "\\x07"); /* quoted safely */
    REFUSED("{\"cmd\":\"send\"}", BANTER_EINVAL, "send needs \"peer\"");
    /* a line at the cap is read; one more byte is ETOOBIG */
    size_t n = BANTER_CTL_MAX_LINE;
    char *big = repeat(' ', n + 1);
    memcpy(big, "{\"cmd\":\"id\"}", 12);
    ctl_request q;
    char why[CTL_WHY_CAP];
    assert_int_equal(ctlmsg_decode(&q, big, n, why, sizeof why), 0);
    ctl_request_clear(&q);
    assert_int_equal(ctlmsg_decode(&q, big, n + 1, why, sizeof why), BANTER_ETOOBIG);
    assert_non_null(strstr(why, "65536"));
    free(big);
    /* White space around the object is fine; a WebSocket frame has none. */
    TAKEN(&q, " \t{ \"cmd\" : \"web\" }\r\n");
    assert_int_equal(q.kind, CTL_WEB);
    ctl_request_clear(&q);
    /* why may be absent */
    assert_int_equal(ctlmsg_decode(&q, "{}", 2, NULL, 0), BANTER_ESCHEMA);
}

/* Members a request does not define are ignored (documented policy). */
static void test_unknown_members(void **state)
{
    (void)state;
    ctl_request q;
    TAKEN(&q, "{\"cmd\":\"id\",\"x\":1,\"y\":{\"z\":[1.5,null]},\"tag\":\"abc\"}");
    assert_int_equal(q.kind, CTL_ID);
    ctl_request_clear(&q);
    TAKEN(&q, "{\"cmd\":\"send\",\"peer\":\"b\",\"text\":\"t\",\"wiat\":5000}");
    assert_true(q.u.send.wait_ms == 0);
    ctl_request_clear(&q);
    /* ... but names are case-sensitive: "Peer" is not "peer" */
    REFUSED("{\"cmd\":\"verify\",\"Peer\":\"bob\"}", BANTER_EINVAL, "\"peer\"");
}

static void test_table(void **state)
{
    (void)state;
    for (int k = 0; k < CTL_KIND_COUNT; k++) {
        ctl_kind back;
        assert_int_equal(ctl_kind_parse(ctl_kind_name((ctl_kind)k), &back), 0);
        assert_int_equal(back, k);
        assert_true(ctl_kind_flags((ctl_kind)k) & CTL_F_IDLE);
    }
    ctl_kind back;
    assert_int_equal(ctl_kind_parse("nope", &back), BANTER_EBADTYPE);
    assert_string_equal(ctl_kind_name(CTL_KIND_COUNT), "?");
    assert_int_equal(ctl_kind_flags(CTL_LOGIN),
                     CTL_F_IDLE | CTL_F_WAITS | CTL_F_RDV | CTL_F_SECRET);
    assert_int_equal(ctl_kind_flags(CTL_RENDEZVOUS), CTL_F_IDLE);
    assert_int_equal(ctl_kind_flags(CTL_CONTACTS), CTL_F_IDLE | CTL_F_RDV);
    assert_int_equal(ctl_kind_flags(CTL_SEND), CTL_F_IDLE | CTL_F_WAITS);
    assert_int_equal(ctl_kind_flags(CTL_SEND_FILE), CTL_F_IDLE | CTL_F_WAITS);
    assert_int_equal(ctl_kind_flags(CTL_PEERS), CTL_F_IDLE);
    for (int k = 0; k < CTL_KIND_COUNT; k++)
        if (k != CTL_LOGIN)
            assert_false(ctl_kind_flags((ctl_kind)k) & CTL_F_SECRET);
}

/* ---- requests written by ctlmsg_encode_request ---- */

static void test_encode_requests(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof tkinds / sizeof tkinds[0]; k++) {
        ctl_request q, q2;
        char why[CTL_WHY_CAP];
        buf b1, b2;
        buf_init(&b1, BANTER_CTL_MAX_LINE);
        buf_init(&b2, BANTER_CTL_MAX_LINE);
        TAKEN(&q, tkinds[k].valid);
        assert_int_equal(ctlmsg_encode_request(&q, &b1, why, sizeof why), 0);
        assert_int_equal(
            ctlmsg_decode(&q2, (const char *)buf_data(&b1), buf_len(&b1), why, sizeof why), 0);
        assert_int_equal(ctlmsg_encode_request(&q2, &b2, why, sizeof why), 0);
        assert_int_equal(buf_len(&b1), buf_len(&b2));
        assert_memory_equal(buf_data(&b1), buf_data(&b2), buf_len(&b1));
        ctl_request_clear(&q);
        ctl_request_clear(&q2);
        buf_free(&b1);
        buf_free(&b2);
    }
    /* Defaults are left out; the text is canonical. */
    ctl_request q = {.kind = CTL_HISTORY};
    char why[CTL_WHY_CAP];
    buf b;
    buf_init(&b, BANTER_CTL_MAX_LINE);
    snprintf(q.u.history.peer, sizeof q.u.history.peer, "bob");
    q.u.history.limit = 50;
    assert_int_equal(ctlmsg_encode_request(&q, &b, why, sizeof why), 0);
    assert_int_equal(buf_len(&b), strlen("{\"cmd\":\"history\",\"peer\":\"bob\"}"));
    assert_memory_equal(buf_data(&b), "{\"cmd\":\"history\",\"peer\":\"bob\"}", buf_len(&b));
    buf_consume(&b, buf_len(&b));
    /* What the decoder refuses is refused, with its reason, and nothing is written. */
    q.u.history.limit = 0;
    assert_int_equal(ctlmsg_encode_request(&q, &b, why, sizeof why), BANTER_EINVAL);
    assert_non_null(strstr(why, "\"limit\""));
    ctl_request s = {.kind = CTL_SEND};
    assert_int_equal(ctlmsg_encode_request(&s, &b, why, sizeof why), BANTER_EINVAL); /* no text */
    s.u.send.text.s = (char *)"x\xff";
    s.u.send.text.len = 2;
    snprintf(s.u.send.peer, sizeof s.u.send.peer, "bob");
    assert_int_equal(ctlmsg_encode_request(&s, &b, why, sizeof why), BANTER_EUTF8);
    ctl_request st = {.kind = CTL_STATUS, .u.status.status = RV_P_OFFLINE};
    assert_int_equal(ctlmsg_encode_request(&st, &b, why, sizeof why), BANTER_EINVAL);
    ctl_request bad = {.kind = CTL_KIND_COUNT};
    assert_int_equal(ctlmsg_encode_request(&bad, &b, why, sizeof why), BANTER_EINVAL);
    assert_int_equal(buf_len(&b), 0);
    /* A password goes out, and only there. */
    ctl_request l = {.kind = CTL_LOGIN};
    snprintf(l.u.login.user, sizeof l.u.login.user, "ada");
    snprintf(l.u.login.password, sizeof l.u.login.password, "p\"w");
    assert_int_equal(ctlmsg_encode_request(&l, &b, why, sizeof why), 0);
    const char want[] = "{\"cmd\":\"login\",\"user\":\"ada\",\"password\":\"p\\\"w\"}";
    assert_int_equal(buf_len(&b), sizeof want - 1);
    assert_memory_equal(buf_data(&b), want, sizeof want - 1);
    buf_free(&b);
}

/* ---- replies and events ---- */

/* Encode with f and compare with the expected text. */
#define EXPECT_TEXT(call, want)                                                                    \
    do {                                                                                           \
        buf b_;                                                                                    \
        buf_init(&b_, 1 << 20);                                                                    \
        int r_ = (call);                                                                           \
        if (r_ != 0)                                                                               \
            fail_msg("%s: %s", #call, banter_errname(r_));                                         \
        if (buf_len(&b_) != strlen(want) || memcmp(buf_data(&b_), want, buf_len(&b_)) != 0)        \
            fail_msg("got  %.*s\nwant %s", (int)buf_len(&b_), (const char *)buf_data(&b_), want);  \
        buf_free(&b_);                                                                             \
    } while (0)
#define OUT (&b_)

static const uint8_t ID16[CTL_ID_LEN] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81,
                                         0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09};
#define ID16_HEX "1a2b3c4d5e6f708192a3b4c5d6e7f809"

static void test_replies(void **state)
{
    (void)state;
    ctl_reply r = {.kind = CTL_ID};
    r.u.id.fingerprint = "07251 62508";
    r.u.id.name = "ada";
    r.u.id.port = 7070;
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"fingerprint\":\"07251 62508\",\"name\":\"ada\",\"port\":7070}");

    /* history: 2^53 is written as digits, not 9.00719925474099e+15 */
    static const uint8_t KEY[32] = {0xab, 0xcd};
#define KEY_HEX "abcd000000000000000000000000000000000000000000000000000000000000"
    ctl_message m[2] = {
        {.seq = 7,
         .incoming = false,
         .ts = INT64_C(9007199254740992),
         .stored = 5,
         .state = "delivered",
         .body = "see https://example.org.",
         .body_len = 24},
        {.seq = 8,
         .incoming = true,
         .device = "07251 62508",
         .unverified = true,
         .ts = 1,
         .stored = 2,
         .state = "failed",
         .error = "EQUOTA",
         .broadcast = true,
         .body = "x",
         .body_len = 1},
    };
    memcpy(m[0].id, ID16, CTL_ID_LEN);
    r = (ctl_reply){.kind = CTL_HISTORY};
    r.u.history.peer = (ctl_peer_ref){KEY, "07251", NULL};
    r.u.history.n = 2;
    r.u.history.messages = m;
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"peer\":{\"id\":\"" KEY_HEX "\",\"fingerprint\":\"07251\","
                "\"name\":\"\"},\"messages\":["
                "{\"id\":\"" ID16_HEX "\",\"seq\":7,\"direction\":\"out\","
                "\"ts\":9007199254740992,\"stored\":5,\"state\":\"delivered\",\"broadcast\":false,"
                "\"body\":\"see https://example.org.\",\"links\":[\"https://example.org\"]},"
                "{\"id\":\"00000000000000000000000000000000\",\"seq\":8,\"direction\":\"in\","
                "\"device\":\"07251 62508\",\"unverified\":true,\"ts\":1,"
                "\"stored\":2,\"state\":\"failed\",\"error\":\"EQUOTA\",\"broadcast\":true,"
                "\"body\":\"x\",\"links\":[]}],\"more\":false}");

    ctl_device devs[2] = {
        {"1", "bob", "known", true, "198.18.0.2:7070", "lan", "lan", ""},
        {"3", "bob-laptop", "changed", false, "", "rendezvous", "direct", "host 198.51.100.7"}};
    ctl_peer p = {.id = KEY,
                  .fingerprint = "1",
                  .name = "bob",
                  .fold = "bob",
                  .online = true,
                  .address = "198.18.0.2:7070",
                  .source = "rendezvous",
                  .trust = "known",
                  .last_seen = 3,
                  .account = "bob",
                  .status = "away",
                  .text = "lunch",
                  .contact = "approved",
                  .display_name = "Bob",
                  .org_server_fp = "2",
                  .replaces = "9",
                  .route = "lan",
                  .ndev = 2,
                  .devs = devs};
    r = (ctl_reply){.kind = CTL_PEERS};
    r.u.peers.n = 1;
    r.u.peers.peers = &p;
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"peers\":[{\"id\":\"" KEY_HEX "\",\"fingerprint\":\"1\","
                "\"name\":\"bob\",\"fold\":\"bob\",\"online\":true,"
                "\"addresses\":[\"198.18.0.2:7070\"],\"source\":\"rendezvous\",\"route\":\"lan\","
                "\"trust\":\"known\","
                "\"last_seen\":3,\"account\":\"bob\",\"status\":\"away\",\"text\":\"lunch\","
                "\"contact\":\"approved\",\"display_name\":\"Bob\",\"org\":{\"account\":\"bob\","
                "\"server_fp\":\"2\"},\"replaces\":\"9\",\"devices\":[{\"fingerprint\":\"1\","
                "\"name\":\"bob\",\"trust\":\"known\",\"online\":true,\"address\":"
                "\"198.18.0.2:7070\",\"source\":\"lan\",\"route\":\"lan\",\"path\":\"\"},"
                "{\"fingerprint\":\"3\",\"name\":\"bob-laptop\",\"trust\":\"changed\","
                "\"online\":false,\"address\":\"\",\"source\":\"rendezvous\","
                "\"route\":\"direct\",\"path\":\"host 198.51.100.7\"}]}]}");
    ctl_peer lan = {.fingerprint = "1", .name = "eve", .source = "lan", .trust = "new"};
    r = (ctl_reply){.kind = CTL_VERIFY, .u.verify = {"eve's key is verified", &lan}};
    EXPECT_TEXT(
        ctlmsg_encode_reply(&r, OUT),
        "{\"ok\":true,\"message\":\"eve's key is verified\",\"peer\":{\"fingerprint\":"
        "\"1\",\"name\":\"eve\",\"fold\":\"\",\"online\":false,\"addresses\":[],\"source\":\"lan\","
        "\"route\":\"\",\"trust\":\"new\",\"last_seen\":0,\"devices\":[]}}");

    ctl_transfer t = {.peer = {NULL, "1", "bob"},
                      .incoming = true,
                      .state = "active",
                      .name = "Photos (12 files)",
                      .files = 12,
                      .size = INT64_C(9007199254740992),
                      .done = 5,
                      .rate = -3,
                      .error = "",
                      .dest = "/in",
                      .created = 7};
    memcpy(t.id, ID16, CTL_ID_LEN);
    const char *tj = "{\"id\":\"" ID16_HEX "\",\"peer\":{\"fingerprint\":\"1\",\"name\":\"bob\"},"
                     "\"direction\":\"in\",\"state\":\"active\",\"name\":\"Photos (12 files)\","
                     "\"files\":12,\"size\":9007199254740992,\"done\":5,\"rate\":0,\"error\":\"\","
                     "\"dest\":\"/in\",\"created\":7}";
    char want[2048];
    r = (ctl_reply){.kind = CTL_SEND_FILE};
    memcpy(r.u.send_file.id, ID16, CTL_ID_LEN);
    r.u.send_file.transfer = &t;
    snprintf(want, sizeof want,
             "{\"ok\":true,\"id\":\"" ID16_HEX "\",\"state\":\"queued\","
             "\"transfer\":%s}",
             tj);
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), want);
    r = (ctl_reply){.kind = CTL_TRANSFERS, .u.transfers = {1, &t}};
    snprintf(want, sizeof want, "{\"ok\":true,\"transfers\":[%s]}", tj);
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), want);
    r = (ctl_reply){.kind = CTL_CANCEL, .u.xfer.transfer = &t};
    snprintf(want, sizeof want, "{\"ok\":true,\"transfer\":%s}", tj);
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), want);

    r = (ctl_reply){.kind = CTL_SEND};
    memcpy(r.u.send.id, ID16, CTL_ID_LEN);
    r.u.send.state = "failed";
    r.u.send.error = "ENOTCONTACT";
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"id\":\"" ID16_HEX
                                              "\",\"state\":\"failed\",\"error\":\"ENOTCONTACT\"}");
    r = (ctl_reply){.kind = CTL_BROADCAST, .u.broadcast.recipients = 12};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"id\":"
                                              "\"00000000000000000000000000000000\","
                                              "\"recipients\":12}");
    r = (ctl_reply){.kind = CTL_LISTEN};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"listening\":true}");
    r = (ctl_reply){.kind = CTL_WEB, .u.web = {false, NULL, "cannot listen"}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"enabled\":false,\"message\":\"cannot listen\"}");
    r = (ctl_reply){.kind = CTL_WEB, .u.web = {true, "http://127.0.0.1:7420/?t=5f", NULL}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"enabled\":true,\"url\":\"http://127.0.0.1:7420/?t=5f\"}");

    struct ctl_read_mark marks[2] = {{.key = "07251 62508", .ts = 1795303925123},
                                     {.key = "k", .ts = INT64_C(9007199254740992)}};
    r = (ctl_reply){.kind = CTL_SETTINGS_GET};
    r.u.settings = (ctl_settings){CTL_THEME_SYSTEM, 15, true, false, 2, marks};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"settings\":{\"theme\":\"system\",\"font_size\":15,\"sound\":true,"
                "\"notify\":false,\"read\":{\"07251 62508\":1795303925123,"
                "\"k\":9007199254740992}}}");
}

static void test_rdv_replies(void **state)
{
    (void)state;
    ctl_plugin pl = {.name = "echo",
                     .path = "/p/echo.so",
                     .state = "backoff",
                     .version = "1.0",
                     .description = "d",
                     .last_error = "crashed",
                     .enabled = true,
                     .restarts = 2,
                     .retry_in_ms = 900};
    ctl_check ck[2] = {{"discovery", "warn", "no mDNS answers seen on eth0"},
                       {"nat", "ok", "behind NAT"}};
    ctl_reply dr = {.kind = CTL_DOCTOR, .u.doctor = {2, ck}};
    EXPECT_TEXT(ctlmsg_encode_reply(&dr, OUT),
                "{\"ok\":true,\"checks\":[{\"name\":\"discovery\",\"status\":\"warn\","
                "\"text\":\"no mDNS answers seen on eth0\"},{\"name\":\"nat\",\"status\":"
                "\"ok\",\"text\":\"behind NAT\"}]}");
    ctl_reply pr = {.kind = CTL_PLUGINS};
    pr.u.plugins.n = 1;
    pr.u.plugins.plugins = &pl;
    EXPECT_TEXT(ctlmsg_encode_reply(&pr, OUT),
                "{\"ok\":true,\"plugins\":[{\"name\":\"echo\",\"path\":\"/p/echo.so\","
                "\"state\":\"backoff\",\"enabled\":true,\"pid\":0,\"restarts\":2,"
                "\"retry_in_ms\":900,\"version\":\"1.0\",\"description\":\"d\","
                "\"last_error\":\"crashed\"}]}");
    ctl_reply r = {.kind = CTL_RENDEZVOUS};
    r.u.rendezvous.configured = false;
    EXPECT_TEXT(
        ctlmsg_encode_reply(&r, OUT),
        "{\"ok\":true,\"configured\":false,\"server\":null,\"server_key\":null,"
        "\"instance\":null,\"connected\":false,\"verified\":false,\"user\":null,\"admin\":false,"
        "\"error\":null,\"auth_error\":null,\"cert_expires\":null,\"status\":null,"
        "\"status_text\":null,\"policy\":null}");
    r.u.rendezvous = (struct ctl_rdv_status){.configured = true,
                                             .server = "203.0.113.5:7071",
                                             .server_key = "50603",
                                             .instance = "rdv-a",
                                             .connected = true,
                                             .verified = true,
                                             .user = "ada",
                                             .auth_error = "ERATE",
                                             .retry_after_ms = 2000,
                                             .cert_expires = 1797897600000,
                                             .status = RV_P_AWAY,
                                             .status_text = "out",
                                             .has_policy = true,
                                             .pol_serial = 3,
                                             .pol_issued = 1797897600000,
                                             .pol_max_file_mb = 100,
                                             .pol_auto_accept = false,
                                             .pol_history_days = 30,
                                             .pol_lan_discovery = true};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"configured\":true,\"server\":\"203.0.113.5:7071\","
                "\"server_key\":\"50603\",\"instance\":\"rdv-a\",\"connected\":true,"
                "\"verified\":true,\"user\":\"ada\","
                "\"admin\":false,\"error\":null,\"auth_error\":\"ERATE\",\"retry_after_ms\":2000,"
                "\"cert_expires\":1797897600000,\"status\":\"away\",\"status_text\":\"out\","
                "\"policy\":{\"serial\":3,\"issued\":1797897600000,\"max_file_mb\":100,"
                "\"auto_accept\":false,\"history_days\":30,\"lan_discovery\":true}}");

    struct rv_profile prof = {0};
    prof.f[RV_F_DISPLAY_NAME] = (char *)"Bob B";
    prof.f[RV_F_DEPARTMENT] = (char *)"Research";
    ctl_contact cs[3] = {
        {"bob", RV_CS_APPROVED, RV_P_AWAY, "lunch", 2, &prof},
        {"eve", RV_CS_INCOMING, RV_P_OFFLINE, "", 0, NULL},
        {"mal", RV_CS_OUTGOING, RV_P_OFFLINE, "", 0, NULL},
    };
    r = (ctl_reply){.kind = CTL_CONTACTS, .u.contacts = {true, 3, cs}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"logged_in\":true,\"contacts\":[{\"user\":\"bob\",\"state\":"
                "\"approved\",\"status\":\"away\",\"text\":\"lunch\",\"devices\":2,"
                "\"display_name\":\"Bob B\",\"department\":\"Research\"},{\"user\":\"eve\","
                "\"state\":\"incoming\",\"status\":\"offline\",\"text\":\"\",\"devices\":0},"
                "{\"user\":\"mal\",\"state\":\"outgoing\",\"status\":\"offline\",\"text\":\"\","
                "\"devices\":0}]}");
    r.kind = CTL_REQUESTS;
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"logged_in\":true,\"incoming\":[{\"user\":\"eve\",\"state\":"
                "\"incoming\",\"status\":\"offline\",\"text\":\"\",\"devices\":0}],"
                "\"outgoing\":[{\"user\":\"mal\",\"state\":\"outgoing\",\"status\":\"offline\","
                "\"text\":\"\",\"devices\":0}]}");

    struct rv_user users[1] = {{.name = "ada"}};
    users[0].p.f[RV_F_DISPLAY_NAME] = (char *)"Ada";
    r = (ctl_reply){.kind = CTL_SEARCH, .u.search = {1, 0, 20, 1, users}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"total\":1,\"page\":0,\"per_page\":20,\"users\":[{\"user\":\"ada\","
                "\"display_name\":\"Ada\"}]}");
    r = (ctl_reply){.kind = CTL_LOGIN, .u.login = {"ada", true}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"user\":\"ada\",\"admin\":true}");
    r = (ctl_reply){.kind = CTL_LOGOUT, .u.logout = {"ada"}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"user\":\"ada\"}");
    r = (ctl_reply){.kind = CTL_PROFILE_SET, .u.profile = {RV_F_TITLE, "Dr"}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"field\":\"title\",\"value\":\"Dr\"}");
    r = (ctl_reply){.kind = CTL_CONTACT, .u.contact = {RV_OP_DENY, "eve"}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"op\":\"deny\",\"user\":\"eve\"}");
    r = (ctl_reply){.kind = CTL_STATUS, .u.status = {RV_P_BUSY, NULL}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"status\":\"busy\",\"text\":\"\"}");
    r = (ctl_reply){.kind = CTL_ORG_BROADCAST, .u.org_broadcast = {41, 30, 12, 0}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"users\":41,\"delivered\":30,\"stored\":12,\"refused\":0}");

    EXPECT_TEXT(ctlmsg_encode_error(BANTER_ENOENT, NULL, "no peer matches 'bob'", NULL, 0, OUT),
                "{\"ok\":false,\"error\":\"ENOENT\",\"message\":\"no peer matches 'bob'\"}");
    EXPECT_TEXT(ctlmsg_encode_error(BANTER_EINVAL, "EAUTH", "refused", "ERATE", 2000, OUT),
                "{\"ok\":false,\"error\":\"EAUTH\",\"message\":\"refused\",\"code\":\"ERATE\","
                "\"retry_after_ms\":2000}");
    EXPECT_TEXT(ctlmsg_encode_error(BANTER_ETOOLONG, NULL, NULL, "", -1, OUT),
                "{\"ok\":false,\"error\":\"ETOOLONG\",\"message\":\"field longer than "
                "allowed\"}");
}

/* Groups: the group views, messages with delivery, find results and the
 * two group events, exactly. */
#define EXPECT_REFUSED(call, err) assert_int_equal((call), (err))
static void test_group_replies(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 20);
    static const uint8_t GID[CTL_GROUP_ID_LEN] = {0xaa, 0xbb};
    static const uint8_t PEER[32] = {0x01};
#define GID_HEX "aabb0000000000000000000000000000"
    ctl_group_member mem[2] = {{"@ada", true, true, NULL, NULL},
                               {"0101", false, false, "07251 62508", "carol"}};
    ctl_group_view g = {.name = "launch",
                        .creator = "@ada",
                        .version = 3,
                        .members_count = 2,
                        .member = true,
                        .admin = true,
                        .unread = 1,
                        .created = INT64_C(9007199254740992),
                        .with_members = true,
                        .nmembers = 2,
                        .members = mem};
    memcpy(g.id, GID, sizeof GID);
#define GROUP_JSON                                                                                 \
    "{\"id\":\"" GID_HEX "\",\"name\":\"launch\",\"version\":3,\"creator\":\"@ada\","              \
    "\"members_count\":2,\"member\":true,\"admin\":true,\"unread\":1,"                             \
    "\"created\":9007199254740992,\"members\":[{\"id\":\"@ada\",\"admin\":true,\"me\":true},"      \
    "{\"id\":\"0101\",\"fingerprint\":\"07251 62508\",\"name\":\"carol\"}]}"
    ctl_reply r = {.kind = CTL_GROUP_MEMBERS, .u.group = {&g, 0, NULL}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"group\":" GROUP_JSON "}");
    /* history: the group without its members, then the messages */
    ctl_delivery dl[2] = {{"@bob", "delivered"}, {"@dave", "stored"}};
    ctl_group_message m = {.seq = 4,
                           .ts = 5,
                           .stored = 6,
                           .state = "queued",
                           .body = "see www.example.org",
                           .body_len = 19,
                           .has_delivery = true,
                           .ndelivery = 2,
                           .delivery = dl,
                           .delivered_to = 1};
    memcpy(m.id, ID16, CTL_ID_LEN);
    g.with_members = false;
    r = (ctl_reply){.kind = CTL_GROUP_HISTORY, .u.group = {&g, 1, &m}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"group\":{\"id\":\"" GID_HEX "\",\"name\":\"launch\","
                "\"version\":3,\"creator\":\"@ada\",\"members_count\":2,\"member\":true,"
                "\"admin\":true,\"unread\":1,\"created\":9007199254740992},\"messages\":[{"
                "\"id\":\"" ID16_HEX "\",\"seq\":4,\"direction\":\"out\",\"ts\":5,\"stored\":6,"
                "\"state\":\"queued\",\"body\":\"see www.example.org\",\"links\":[\"www.example."
                "org\"],\"delivery\":[{\"member\":\"@bob\",\"state\":\"delivered\"},{\"member\":"
                "\"@dave\",\"state\":\"stored\"}],\"delivered_to\":1,\"recipients\":2}]}");
    /* a group reply needs its group */
    r = (ctl_reply){.kind = CTL_GROUP_RENAME};
    EXPECT_REFUSED(ctlmsg_encode_reply(&r, &b), BANTER_EINVAL);
    r = (ctl_reply){.kind = CTL_GROUP_SEND};
    memcpy(r.u.group_send.id, ID16, CTL_ID_LEN);
    memcpy(r.u.group_send.group, GID, sizeof GID);
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"id\":\"" ID16_HEX
                                              "\",\"group\":\"" GID_HEX "\",\"state\":\"queued\"}");
    /* group_delete: what went */
    r = (ctl_reply){.kind = CTL_GROUP_DELETE};
    memcpy(r.u.group_delete.id, GID, sizeof GID);
    r.u.group_delete.name = "launch";
    r.u.group_delete.left = true;
    r.u.group_delete.messages = 12;
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"id\":\"" GID_HEX "\",\"name\":\"launch\",\"left\":true,"
                "\"messages\":12}");
    /* groups: the limit, and the invitations refused at it */
    r = (ctl_reply){.kind = CTL_GROUPS, .u.groups = {0, NULL, 1000, 2, 77}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"groups\":[],\"limit\":1000,\"refused\":2,\"refused_at\":77}");
    r = (ctl_reply){.kind = CTL_GROUPS, .u.groups = {0, NULL, 1000, 0, 0}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"groups\":[],\"limit\":1000}");
    /* find: a message from a contact, and the next page */
    ctl_group_message in = {.seq = 9,
                            .incoming = true,
                            .device = "1",
                            .from = "bob",
                            .account = "bob",
                            .ts = 1,
                            .stored = 2,
                            .state = "received",
                            .body = "x",
                            .body_len = 1};
    memcpy(in.id, ID16, CTL_ID_LEN);
    ctl_found f = {.group = false, .conv = PEER, .name = "bob", .account = "bob", .message = in};
    r = (ctl_reply){.kind = CTL_FIND, .u.find = {1, &f, 9}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"results\":[{\"conversation\":{\"kind\":\"contact\",\"peer\":"
                "\"0100000000000000000000000000000000000000000000000000000000000000\",\"name\":"
                "\"bob\",\"account\":\"bob\"},\"message\":{\"id\":\"" ID16_HEX "\",\"seq\":9,"
                "\"direction\":\"in\",\"device\":\"1\",\"from\":\"bob\",\"account\":\"bob\","
                "\"ts\":1,\"stored\":2,\"state\":\"received\",\"body\":\"x\",\"links\":[]}}],"
                "\"next_before\":9}");
    /* a body that is not UTF-8 is refused whole */
    in.body = "\xff";
    f.message = in;
    EXPECT_REFUSED(ctlmsg_encode_reply(&r, &b), BANTER_EUTF8);
    /* the events */
    g.with_members = true;
    ctl_event ev = {.kind = CTL_EV_GROUP, .at = 7, .group = &g};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"group\",\"at\":7,\"group\":" GROUP_JSON "}");
    m.has_delivery = false;
    g.with_members = false;
    ev = (ctl_event){.kind = CTL_EV_GROUP_MESSAGE, .at = 8, .group = &g, .group_message = &m};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"group_message\",\"at\":8,\"group\":{\"id\":\"" GID_HEX
                "\",\"name\":\"launch\",\"version\":3,\"creator\":\"@ada\",\"members_count\":2,"
                "\"member\":true,\"admin\":true,\"unread\":1,\"created\":9007199254740992},"
                "\"message\":{\"id\":\"" ID16_HEX "\",\"seq\":4,\"direction\":\"out\",\"ts\":5,"
                "\"stored\":6,\"state\":\"queued\",\"body\":\"see www.example.org\",\"links\":"
                "[\"www.example.org\"]}}");
    /* a group deleted here; an invitation refused at the limit */
    ev = (ctl_event){.kind = CTL_EV_GROUP, .at = 9, .text = "deleted", .deleted_group = GID};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT), "{\"event\":\"group\",\"at\":9,\"text\":\"deleted\","
                                               "\"id\":\"" GID_HEX "\",\"deleted\":true}");
    ev = (ctl_event){.kind = CTL_EV_GROUP, .at = 9, .text = "refused"};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"group\",\"at\":9,\"text\":\"refused\"}");
#undef GROUP_JSON
#undef GID_HEX
    assert_int_equal(buf_len(&b), 0); /* refused whole: nothing appended */
    buf_free(&b);
}

static void test_events(void **state)
{
    (void)state;
    static const uint8_t KEY[32] = {1};
    ctl_peer_ref bob = {KEY, "1", "bob"};
#define BOB                                                                                        \
    "{\"id\":\"0100000000000000000000000000000000000000000000000000000000000000\","                \
    "\"fingerprint\":\"1\",\"name\":\"bob\"}"
    ctl_message m = {.seq = 12,
                     .unverified = true,
                     .device = "not in events",
                     .ts = INT64_C(9007199254740992),
                     .broadcast = true,
                     .body = "lunch? www.example.org",
                     .body_len = 22,
                     .state = "stored"};
    memcpy(m.id, ID16, CTL_ID_LEN);
    ctl_event ev = {.kind = CTL_EV_MESSAGE, .at = 5, .peer = &bob, .message = &m};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"message\",\"at\":5,\"peer\":" BOB ",\"id\":\"" ID16_HEX
                "\",\"seq\":12,\"unverified\":true,\"ts\":9007199254740992,\"broadcast\":true,"
                "\"body\":\"lunch? www.example.org\",\"links\":[\"www.example.org\"]}");
    /* A copy of what this account sent from another device says so. */
    m.from_self = true;
    m.unverified = false;
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"message\",\"at\":5,\"peer\":" BOB ",\"id\":\"" ID16_HEX
                "\",\"seq\":12,\"direction\":\"out\",\"ts\":9007199254740992,"
                "\"broadcast\":true,\"body\":\"lunch? www.example.org\",\"links\":[\"www."
                "example.org\"]}");
    ev.kind = CTL_EV_DELIVERED;
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT), "{\"event\":\"delivered\",\"at\":5,\"peer\":" BOB
                                               ",\"id\":\"" ID16_HEX "\",\"state\":\"stored\"}");
    m.state = "queued";
    ev =
        (ctl_event){.kind = CTL_EV_DEFERRED, .at = 5, .peer = &bob, .message = &m, .text = "ERATE"};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"deferred\",\"at\":5,\"peer\":" BOB ",\"id\":\"" ID16_HEX
                "\",\"state\":\"queued\",\"text\":\"ERATE\"}");
    ev = (ctl_event){.kind = CTL_EV_PRESENCE, .at = 6, .peer = &bob, .status = "away", .text = ""};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT), "{\"event\":\"presence\",\"at\":6,\"peer\":" BOB
                                               ",\"status\":\"away\",\"text\":\"\"}");
    ev = (ctl_event){.kind = CTL_EV_RENAMED, .at = 6, .peer = &bob, .text = "now bobby"};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"renamed\",\"at\":6,\"peer\":" BOB ",\"text\":\"now bobby\"}");
    ev = (ctl_event){.kind = CTL_EV_CONTACTS, .at = 7};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT), "{\"event\":\"contacts\",\"at\":7}");
    ctl_settings s = {CTL_THEME_DARK, 24, false, true, 0, NULL};
    ev = (ctl_event){.kind = CTL_EV_SETTINGS, .at = 8, .settings = &s};
    EXPECT_TEXT(
        ctlmsg_encode_event(&ev, OUT),
        "{\"event\":\"settings\",\"at\":8,\"settings\":{\"theme\":\"dark\",\"font_size\":24,"
        "\"sound\":false,\"notify\":true,\"read\":{}}}");
    ctl_transfer t = {.peer = {KEY, "1", "bob"},
                      .state = "active",
                      .name = "a",
                      .files = 1,
                      .size = 10,
                      .done = 4,
                      .rate = 2,
                      .created = 1};
    ev = (ctl_event){.kind = CTL_EV_FILE_PROGRESS, .at = 9, .transfer = &t};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"file_progress\",\"at\":9,\"transfer\":{\"id\":"
                "\"00000000000000000000000000000000\",\"peer\":" BOB ",\"direction\":\"out\","
                "\"state\":\"active\",\"name\":\"a\",\"files\":1,\"size\":10,\"done\":4,"
                "\"rate\":2,\"error\":\"\",\"dest\":\"\",\"created\":1}}");
    static const char *const names[CTL_EV_COUNT] = {
        "message",     "delivered",  "online",     "offline",       "key_changed",
        "discovery",   "rendezvous", "contacts",   "presence",      "renamed",
        "settings",    "file_offer", "file_state", "file_progress", "file_done",
        "file_failed", "deferred",   "group",      "group_message", "announcement"};
    for (int k = 0; k < CTL_EV_COUNT; k++)
        assert_string_equal(ctl_event_name((ctl_event_kind)k), names[k]);
    assert_string_equal(ctl_event_name(CTL_EV_COUNT), "?");
}

/* nat_check and the announcements: the JSON natctl and annctl built
 * with cJSON themselves before (docs/control.md's examples), byte for byte. */
static void test_nat_and_announcement_replies(void **state)
{
    (void)state;
    ctl_nat_cand cs[2] = {{"host", "udp", "198.19.1.11", 50000, NULL},
                          {"relay", "udp", "198.18.0.1", 60001, "tcp"}};
    ctl_reply r = {.kind = CTL_NAT_CHECK,
                   .u.nat_check = {.servers = "turn:198.18.0.1:3478",
                                   .credentials_expire_ms = 1796288523412,
                                   .ncands = 2,
                                   .cands = cs,
                                   .host = 1,
                                   .relay_tcp = 1,
                                   .nat = "behind",
                                   .mapped = "198.18.0.11",
                                   .turn = "tcp",
                                   .verdict = "UDP is blocked"}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"servers\":\"turn:198.18.0.1:3478\",\"credentials_expire_ms\":"
                "1796288523412,\"candidates\":[{\"type\":\"host\",\"transport\":\"udp\","
                "\"address\":\"198.19.1.11\",\"port\":50000},{\"type\":\"relay\",\"transport\":"
                "\"udp\",\"address\":\"198.18.0.1\",\"port\":60001,\"turn\":\"tcp\"}],\"host\":1,"
                "\"srflx\":0,\"relay_udp\":0,\"relay_tcp\":1,\"nat\":\"behind\",\"mapped\":"
                "\"198.18.0.11\",\"turn\":\"tcp\",\"verdict\":\"UDP is blocked\"}");
    r.u.nat_check =
        (ctl_nat){.servers = "", .nat = "unknown", .mapped = "", .turn = "none", .verdict = "v"};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"servers\":\"\",\"credentials_expire_ms\":0,\"candidates\":[],"
                "\"host\":0,\"srflx\":0,\"relay_udp\":0,\"relay_tcp\":0,\"nat\":\"unknown\","
                "\"turn\":\"none\",\"verdict\":\"v\"}");
    EXPECT_TEXT(ctlmsg_encode_error(0, "ENOTCONN", "no rendezvous configured", NULL, 0, OUT),
                "{\"ok\":false,\"error\":\"ENOTCONN\",\"message\":\"no rendezvous configured\"}");

    ctl_announcement a[2] = {{7, 1796288523000, "",
                              "Fire drill at 3 pm.\nPlease leave by the stairs.", 1796288523412, 0},
                             {8, 1, "ops", "x", 2, 3}};
    r = (ctl_reply){.kind = CTL_ANNOUNCEMENTS, .u.announcements = {2, a}};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT),
                "{\"ok\":true,\"announcements\":[{\"id\":7,\"ts\":1796288523000,\"department\":"
                "\"\",\"text\":\"Fire drill at 3 pm.\\nPlease leave by the stairs.\",\"received\":"
                "1796288523412,\"read\":null},{\"id\":8,\"ts\":1,\"department\":\"ops\",\"text\":"
                "\"x\",\"received\":2,\"read\":3}]}");
    r = (ctl_reply){.kind = CTL_ANNOUNCEMENTS};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"announcements\":[]}");
    r = (ctl_reply){.kind = CTL_ANNOUNCEMENT_READ, .u.announcement_read.id = 7};
    EXPECT_TEXT(ctlmsg_encode_reply(&r, OUT), "{\"ok\":true,\"id\":7}");
    ctl_event ev = {.kind = CTL_EV_ANNOUNCEMENT, .at = 1796288523412, .announcement = &a[0]};
    EXPECT_TEXT(ctlmsg_encode_event(&ev, OUT),
                "{\"event\":\"announcement\",\"at\":1796288523412,\"announcement\":{\"id\":7,"
                "\"ts\":1796288523000,\"department\":\"\",\"text\":\"Fire drill at 3 pm.\\nPlease "
                "leave by the stairs.\",\"received\":1796288523412,\"read\":null}}");
    /* Refused whole: a negative count, text that is not UTF-8. */
    buf b;
    buf_init(&b, 1 << 20);
    r = (ctl_reply){.kind = CTL_NAT_CHECK, .u.nat_check = {.host = -1}};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_ESCHEMA);
    a[1].text = "caf\xc3";
    r = (ctl_reply){.kind = CTL_ANNOUNCEMENTS, .u.announcements = {2, a}};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_EUTF8);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

/* Out of range, not UTF-8: refused whole, nothing appended. */
/* The page's acknowledgements: {"ack":N} only; a request is not one. */
static void test_acks(void **state)
{
    int64_t n = -1;
    (void)state;
#define ACK(text) ctlmsg_decode_ack(text, strlen(text), &n)
    assert_int_equal(ACK("{\"ack\":0}"), 0);
    assert_true(n == 0);
    assert_int_equal(ACK("{\"ack\":9007199254740992}"), 0);
    assert_true(n == INT64_C(9007199254740992));
    assert_int_equal(ACK("{\"ack\":9007199254740993}"), BANTER_ESCHEMA);
    assert_int_equal(ACK("{\"ack\":-1}"), BANTER_ESCHEMA);
    assert_int_equal(ACK("{\"ack\":1.0}"), BANTER_ESCHEMA);
    assert_int_equal(ACK("{\"ack\":\"1\"}"), BANTER_ESCHEMA);
    assert_int_equal(ACK("{\"cmd\":\"peers\"}"), BANTER_EBADTYPE);
    assert_int_equal(ACK("{\"cmd\":\"peers\",\"ack\":1}"), BANTER_EBADTYPE);
    assert_int_equal(ACK("{}"), BANTER_EBADTYPE);
    assert_int_equal(ACK("[\"ack\"]"), BANTER_ESCHEMA);
    assert_int_equal(ACK("[1]"), BANTER_EBADTYPE);
    assert_int_equal(ACK("{\"ack\":1,\"ack\":2}"), BANTER_ESCHEMA);
    assert_int_equal(ACK("nope"), BANTER_EBADTYPE);
    assert_int_equal(ACK("{\"ack\":"), BANTER_EJSON);
#undef ACK
}

static void test_reply_refusals(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 1 << 20);
    ctl_reply r = {.kind = CTL_ID, .u.id = {"1", "ada", -1}};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_ESCHEMA);
    r.u.id.port = INT64_C(9007199254740993);
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_ESCHEMA);
    r.u.id.port = 1;
    r.u.id.name = "caf\xc3";
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_EUTF8);
    ctl_message m = {.ts = 1, .state = "x", .body = "a\0b", .body_len = 3};
    r = (ctl_reply){.kind = CTL_HISTORY, .u.history = {{NULL, "1", "b"}, 1, &m}};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_EUTF8); /* NUL inside */
    ctl_event ev = {.kind = CTL_EV_ONLINE, .at = -5};
    assert_int_equal(ctlmsg_encode_event(&ev, &b), BANTER_ESCHEMA);
    ev = (ctl_event){.kind = CTL_EV_COUNT};
    assert_int_equal(ctlmsg_encode_event(&ev, &b), BANTER_EINVAL);
    r = (ctl_reply){.kind = CTL_STATUS, .u.status = {RV_P_COUNT, ""}};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_ESCHEMA);
    struct ctl_read_mark bad = {.key = "", .ts = 1};
    r = (ctl_reply){.kind = CTL_SETTINGS_SET};
    r.u.settings = (ctl_settings){CTL_THEME_DARK, 15, true, true, 1, &bad};
    assert_int_equal(ctlmsg_encode_reply(&r, &b), BANTER_ESCHEMA);
    assert_int_equal(buf_len(&b), 0);
    /* out's cap */
    buf small;
    buf_init(&small, 10);
    r = (ctl_reply){.kind = CTL_LISTEN};
    assert_int_equal(ctlmsg_encode_reply(&r, &small), BANTER_ETOOBIG);
    assert_int_equal(buf_len(&small), 0);
    buf_free(&b);
    buf_free(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),      cmocka_unit_test(test_values),
        cmocka_unit_test(test_argument_rules),  cmocka_unit_test(test_settings_rules),
        cmocka_unit_test(test_integers),        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_unknown_members), cmocka_unit_test(test_table),
        cmocka_unit_test(test_encode_requests), cmocka_unit_test(test_replies),
        cmocka_unit_test(test_rdv_replies),     cmocka_unit_test(test_events),
        cmocka_unit_test(test_group_replies),   cmocka_unit_test(test_nat_and_announcement_replies),
        cmocka_unit_test(test_reply_refusals),  cmocka_unit_test(test_acks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
