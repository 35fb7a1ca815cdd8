/* gcide.c — the GCIDE dictionary (dictd text) turned into plain text: the parser of `clgrad corpus gcide`, apart from the CLI so a fuzzer can drive it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcide.h"

gzFile gcide_open(const char *path, int wait_ms, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s (install Debian's dict-gcide)", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    int fl;
    if (fstat(fd, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode))) {
        snprintf(err, errlen, "%s is not a regular file or a pipe", path);
        goto fail;
    }
    if (S_ISFIFO(sb.st_mode)) {
        /* no writer yet: poll() waits for one to write (or to open and close: POLLHUP) */
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r;
        while ((r = poll(&pfd, 1, wait_ms)) < 0 && errno == EINTR)
            ;
        if (r == 0) {
            snprintf(err, errlen, "no process writes to the FIFO %s (waited %.1f s)", path, wait_ms / 1000.0);
            goto fail;
        }
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
        snprintf(err, errlen, "cannot open %s: out of memory", path);
        goto fail;
    }
    return g;
fail:
    close(fd);
    return NULL;
}

static void emit_char(gcide *e, int c)
{
    if (!e->in_word && e->line_words)
        fputc(' ', e->out);
    if (!e->in_word)
        e->line_words++, e->words++;
    e->in_word = 1;
    fputc(c, e->out);
}

static void end_word(gcide *e) { e->in_word = 0; }

static void end_paragraph(gcide *e)
{
    if (e->line_words) {
        fputc('\n', e->out);
        e->lines++;
    }
    e->line_words = 0;
    e->in_word = 0;
}

static int is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* An entity name (&name;) as the letters it stands for; "" for punctuation-like ones. */
static const char *entity(const char *name)
{
    static const char *const map[][2] = {
        { "aelig", "ae" }, { "AElig", "ae" }, { "oelig", "oe" }, { "OElig", "oe" }, { "szlig", "ss" },
        { "amp", "" }, { "lt", "" }, { "gt", "" }, { "quot", "" }, { "ldquo", "" }, { "rdquo", "" },
        { "lsquo", "" }, { "rsquo", "'" }, { "apos", "'" }, { "mdash", "" }, { "ndash", "" }, { "nbsp", "" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(name, map[i][0]))
            return map[i][1];
    /* accented letters: &eacute; &ouml; &ccedil; ... → the base letter */
    static char one[2];
    size_t n = strlen(name);
    static const char *const acc[] = { "acute", "grave", "circ", "uml", "tilde", "cedil", "ring", "macr", "breve", "slash" };
    for (size_t i = 0; i < sizeof acc / sizeof acc[0]; i++)
        if (n == 1 + strlen(acc[i]) && !strcmp(name + 1, acc[i]) && is_letter(name[0])) {
            one[0] = (char)(name[0] | 0x20);
            one[1] = 0;
            return one;
        }
    return "";
}

/* Convert one line of the dictionary. depth: open [ ] brackets carried across lines. */
static void convert_line(gcide *e, const char *s, int *bdepth)
{
    int in_pron = 0;
    for (size_t i = 0; s[i]; i++) {
        int c = (unsigned char)s[i];
        if (*bdepth > 0) {
            /* inside an etymology/source bracket: drop everything up to the matching ] */
            if (c == '[')
                (*bdepth)++;
            else if (c == ']')
                (*bdepth)--;
            continue;
        }
        if (in_pron) {
            if (c == '\\')
                in_pron = 0;
            continue;
        }
        if (c == '\\') {               /* \Pro*nun"ci*a`tion\ */
            end_word(e);
            in_pron = 1;
            continue;
        }
        if (c == '[') {
            /* [=a], [^e], [a^], [.o], [oo] … are letters with diacritics: keep the letters */
            size_t k = i + 1, letters = 0;
            while (s[k] && k - i <= 6 && (is_letter(s[k]) || strchr("=^.~-\"'`,|", s[k]))) {
                letters += is_letter(s[k]) != 0;
                k++;
            }
            if (s[k] == ']' && letters && letters <= 3 && k - i - 1 > letters) {
                for (size_t m = i + 1; m < k; m++)
                    if (is_letter(s[m]))
                        emit_char(e, s[m] | 0x20);
                i = k;
                continue;
            }
            end_word(e);
            (*bdepth)++;
            continue;
        }
        if (c == '<') {                /* markup tag */
            const char *close = strchr(s + i, '>');
            if (close) {
                end_word(e);
                i = (size_t)(close - s);
                continue;
            }
        }
        if (c == '&') {
            size_t k = i + 1;
            while (is_letter(s[k]) && k - i < 12)
                k++;
            if (s[k] == ';' && k > i + 1) {
                char name[16];
                memcpy(name, s + i + 1, k - i - 1);
                name[k - i - 1] = 0;
                const char *rep = entity(name);
                if (*rep)
                    for (; *rep; rep++)
                        emit_char(e, *rep);
                else
                    end_word(e);
                i = k;
                continue;
            }
        }
        if (c == '-' && s[i + 1] == '-') {   /* --Author. citation: drop the rest of the line */
            end_word(e);
            if (is_letter(s[i + 2]))
                return;
            i++;
            continue;
        }
        if (is_letter(c)) {
            emit_char(e, c | 0x20);
            continue;
        }
        int prev = i ? (unsigned char)s[i - 1] : 0, next = (unsigned char)s[i + 1];
        if (e->in_word && (c == '*' || c == '"' || c == '`') && is_letter(prev) && is_letter(next))
            continue;                  /* syllable and stress marks inside a word */
        if (e->in_word && (c == '\'' || c == '-') && is_letter(prev) && is_letter(next)) {
            emit_char(e, c);
            continue;
        }
        end_word(e);
    }
    end_word(e);
}

void gcide_init(gcide *e, FILE *out)
{
    memset(e, 0, sizeof *e);
    e->out = out;
    e->skipping = 1;
}

void gcide_line(gcide *e, char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {                     /* blank line: paragraph break */
        end_paragraph(e);
        e->bdepth = 0;
        return;
    }
    if (p == line && !strncmp(line, "00-database", 11)) {
        e->skipping = 1;           /* dictd's own header entries */
        return;
    }
    if (p == line && e->skipping && strchr(line, '\\'))
        e->skipping = 0;           /* first real headword line: "Word \Pron\, n." */
    if (e->skipping)
        return;
    /* "[1913 Webster]" / "[WordNet 1.5]" source lines end a definition */
    if (*p == '[' && p[strlen(p) - 1] == ']' && !strchr(p + 1, '[') && p[1] != '=') {
        end_paragraph(e);
        e->bdepth = 0;
        return;
    }
    convert_line(e, line, &e->bdepth);
}

void gcide_finish(gcide *e) { end_paragraph(e); }
