/* dict_fixture.h — a tiny dictd dictionary (plain text) and its index for the caption tests: a noun
 * entry with lettered senses and a citation (sandal), a verb and a noun entry with a phrase (shirt),
 * and numbered senses (boot). */
#ifndef CLGRAD_TESTS_DICT_FIXTURE_H
#define CLGRAD_TESTS_DICT_FIXTURE_H

#include <stdio.h>
#include <string.h>

static const char dict_fixture_text[] =
    "Sandal \\San\"dal\\, n. [F. sandale, L. sandalium, Gr. ?, dim. of\n"
    "   ?, probably from Per. sandal.]\n"
    "   (a) A kind of shoe consisting of a sole strapped to the foot;\n"
    "       a protection for the foot.\n"
    "   (b) A kind of slipper.\n"
    "       [1913 Webster]\n"
    "\n"
    "         A citation about a shoe on the foot.   --Author.\n"
    "   [1913 Webster]\n"
    "\n"
    "Shirt \\Shirt\\, v. t. [imp. & p. p. {Shirted}.]\n"
    "   To cover or clothe with a shirt.\n"
    "   [1913 Webster]\n"
    "\n"
    "Shirt \\Shirt\\, n. [OE. schirte.]\n"
    "   A loose under-garment for the upper part of the body.\n"
    "   [1913 Webster]\n"
    "\n"
    "   {Shirt of mail}, a garment of mail worn on the body.\n"
    "      [1913 Webster]\n"
    "\n"
    "Boot \\Boot\\, n.\n"
    "   1. A covering for the foot and lower part of the leg.\n"
    "      [1913 Webster]\n"
    "\n"
    "   2. An instrument of torture for the leg.\n"
    "      [1913 Webster]\n"
    "\n"
    "   3. A place at the side of a coach.\n"
    "      [1913 Webster]\n";

static void dict_fixture_b64(FILE *f, long v)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b[16];
    int n = 0;
    do {
        b[n++] = al[v % 64];
        v /= 64;
    } while (v);
    while (n)
        fputc(b[--n], f);
}

/* Write the dictionary and its index (entries start at each headword at the start of a line);
 * returns 0 on success. */
static int dict_fixture_write(const char *dict, const char *index)
{
    static const char *const heads[] = { "Sandal \\", "Shirt \\Shirt\\, v.", "Shirt \\Shirt\\, n.", "Boot \\" };
    static const char *const words[] = { "sandal", "shirt", "Shirt", "boot" };
    FILE *d = fopen(dict, "wb"), *ix = fopen(index, "wb");
    if (!d || !ix)
        return 1;
    fputs(dict_fixture_text, d);
    fputs("00-database-info\tA\tB\n", ix); /* not a headword of any class */
    for (int i = 0; i < 4; i++) {
        const char *s = strstr(dict_fixture_text, heads[i]);
        const char *e = strstr(s + 1, "\n\nS");
        const char *e2 = strstr(s + 1, "\n\nB");
        if (!e || (e2 && e2 < e))
            e = e2;
        long off = (long)(s - dict_fixture_text), len = e ? (long)(e + 2 - s) : (long)strlen(s);
        fprintf(ix, "%s\t", words[i]);
        dict_fixture_b64(ix, off);
        fputc('\t', ix);
        dict_fixture_b64(ix, len);
        fputc('\n', ix);
    }
    return (fclose(d) != 0) | (fclose(ix) != 0);
}

#endif
