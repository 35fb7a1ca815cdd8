/* cmd_corpus.c — `clgrad corpus gcide OUT.txt`: Debian's dict-gcide turned into plain lowercase text, one definition a line. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"

#define GCIDE_PATH "/usr/share/dictd/gcide.dict.dz"

typedef struct { FILE *out; int in_word, line_words; long lines, words; } emitter;

static void emit_char(emitter *e, int c)
{
    if (!e->in_word && e->line_words)
        fputc(' ', e->out);
    if (!e->in_word)
        e->line_words++, e->words++;
    e->in_word = 1;
    fputc(c, e->out);
}

static void end_word(emitter *e) { e->in_word = 0; }

static void end_paragraph(emitter *e)
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
static void convert_line(emitter *e, const char *s, int *bdepth)
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

static int convert_gcide(const char *in, const char *outp)
{
    gzFile g = gzopen(in, "rb");
    if (!g) {
        fprintf(stderr, "clgrad corpus: cannot open %s (install Debian's dict-gcide)\n", in);
        return 1;
    }
    clg_file_writer *w;
    clg_status st = clg_file_writer_open(outp, &w);
    if (st) {
        gzclose(g);
        return cli_fail("corpus", st);
    }
    FILE *out = clg_file_writer_stream(w);
    emitter e = { .out = out };
    char line[8192];
    int bdepth = 0, skipping = 1;
    while (gzgets(g, line, sizeof line)) {
        if (cli_interrupted())
            break;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) {                     /* blank line: paragraph break */
            end_paragraph(&e);
            bdepth = 0;
            continue;
        }
        if (p == line && !strncmp(line, "00-database", 11)) {
            skipping = 1;              /* dictd's own header entries */
            continue;
        }
        if (p == line && skipping && strchr(line, '\\'))
            skipping = 0;              /* first real headword line: "Word \Pron\, n." */
        if (skipping)
            continue;
        /* "[1913 Webster]" / "[WordNet 1.5]" source lines end a definition */
        if (*p == '[' && p[strlen(p) - 1] == ']' && !strchr(p + 1, '[') && p[1] != '=' ) {
            end_paragraph(&e);
            bdepth = 0;
            continue;
        }
        convert_line(&e, line, &bdepth);
    }
    end_paragraph(&e);
    int bad = gzclose(g) != Z_OK;
    if (bad || cli_interrupted()) {
        clg_file_writer_abort(w);
        if (cli_interrupted()) {
            fprintf(stderr, "clgrad corpus: interrupted; %s not written\n", outp);
            return 128 + cli_interrupted();
        }
        fprintf(stderr, "clgrad corpus: error reading %s\n", in);
        return 1;
    }
    if ((st = clg_file_writer_commit(w)))
        return cli_fail("corpus", st);
    fprintf(stderr, "clgrad corpus: %ld lines, %ld words -> %s\n", e.lines, e.words, outp);
    return 0;
}

int cmd_corpus(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: clgrad corpus gcide OUT.txt [--dict PATH]\n"
               "  Turn the GNU Collaborative International Dictionary of English (Debian dict-gcide,\n"
               "  " GCIDE_PATH ") into plain text: lowercase words, one definition a line,\n"
               "  pronunciations, etymologies, sources and citations removed.\n");
        return 0;
    }
    const char *dict = GCIDE_PATH;
    if (argc == 5 && !strcmp(argv[3], "--dict"))
        dict = argv[4];
    else if (argc != 3) {
        fprintf(stderr, "usage: clgrad corpus gcide OUT.txt [--dict PATH]\n");
        return 2;
    }
    if (strcmp(argv[1], "gcide") != 0) {
        fprintf(stderr, "clgrad corpus: unknown corpus '%s' (known: gcide)\n", argv[1]);
        return 2;
    }
    const char *what = "OUT.txt";
    if (cli_check_outputs("corpus", (const char *const *)&argv[2], &what, 1))
        return 2;
    cli_signals_install();
    return convert_gcide(dict, argv[2]);
}
