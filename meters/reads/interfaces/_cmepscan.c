/* The triplets of CMEP MEPMD01 records, read from their bytes in one pass (meters/interfaces/cmep.py).
 *
 * cmep.py finds the fields of a block of lines (the offset of every comma and newline) and checks
 * the record headers; this reads each triplet's three fields: the date/time CCYYMMDDHHMM to naive
 * epoch seconds, the protocol text to a quality, the value to a float64. It decides nothing: what
 * it cannot read plainly it marks, and cmep.py hands that line to the per-line reader, which
 * accepts or words the error. What it does read must equal the per-line reader's result exactly:
 * tests/meters/test_interfaces_text.py compares the two paths and the numpy one on every shape.
 *
 * Built by setuptools as an optional extension (pyproject.toml): without a C compiler cmep.py
 * reads the same triplets with numpy, a few times slower.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

enum { STAMP_READ = 0, STAMP_BLANK = 1, STAMP_UNREAD = 2 };
enum { VALUE_READ = 0, VALUE_EMPTY = 1, VALUE_UNREAD = 2 };
enum { NO_QUALITY = 255, DECIMAL_WIDEST = 15, MIN_YEAR = 1900, MAX_YEAR = 2199 };

static const double POWERS[DECIMAL_WIDEST + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static int digits(const uint8_t *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9) return 0;
        v = v * 10 + (int)d;
    }
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int month_days(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* parse_ccyymmddhhmm of one 12-byte field: STAMP_READ and the naive seconds, or STAMP_UNREAD. */
static int stamp(const uint8_t *p, Py_ssize_t width, int64_t *naive) {
    int year, month, day, hour, minute;
    if (width == 0) return STAMP_BLANK;
    if (width != 12 || !digits(p, 4, &year) || !digits(p + 4, 2, &month) ||
        !digits(p + 6, 2, &day) || !digits(p + 8, 2, &hour) || !digits(p + 10, 2, &minute))
        return STAMP_UNREAD;
    if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1 ||
        day > month_days(year, month) || hour > 23 || minute > 59)
        return STAMP_UNREAD;
    *naive = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 +
             minute * 60;
    return STAMP_READ;
}

/* _quality of one protocol text: its first letter's quality, the rest status digits or spaces. */
static uint8_t quality(const uint8_t *p, Py_ssize_t width, const uint8_t *letters) {
    if (width == 0) return NO_QUALITY;
    for (Py_ssize_t i = 1; i < width; i++)
        if (p[i] != ' ' && (unsigned)p[i] - '0' > 9) return NO_QUALITY;
    return letters[p[0]];
}

/* decimal_spans of one field: an optional sign, digits and at most one point, at least one
 * digit, at most 15 characters; the integer of the digits over a power of ten (both exact in
 * float64, so one division rounds as float() does). */
static int decimal(const uint8_t *p, Py_ssize_t width, double *value) {
    if (width == 0) return VALUE_EMPTY;
    if (width > DECIMAL_WIDEST) return VALUE_UNREAD;
    Py_ssize_t i = 0, point = -1;
    int minus = 0, count = 0;
    int64_t mantissa = 0;
    if (p[0] == '-' || p[0] == '+') {
        minus = p[0] == '-';
        i = 1;
    }
    for (; i < width; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d <= 9) {
            mantissa = mantissa * 10 + d;
            count++;
        } else if (p[i] == '.' && point < 0) {
            point = i;
        } else {
            return VALUE_UNREAD;
        }
    }
    if (!count) return VALUE_UNREAD;
    double v = (double)mantissa / POWERS[point < 0 ? 0 : width - 1 - point];
    *value = minus ? -v : v;
    return VALUE_READ;
}

/* triplets(buf, stop, before, counts, letters, naive, stamps, qualities, values, states)
 *
 * Line r's triplets follow field before[r] (its count field); field f runs from stop[f - 1] + 1
 * to stop[f]. Writes one entry per triplet into the five output arrays, lines one after another.
 */
static PyObject *triplets(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b[10];
    const char *fmt = "y*y*y*y*y*w*w*w*w*w*";
    if (!PyArg_ParseTuple(args, fmt, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7],
                          &b[8], &b[9]))
        return NULL;
    const uint8_t *buf = b[0].buf;
    const int64_t *stop = b[1].buf, *before = b[2].buf, *counts = b[3].buf;
    const uint8_t *letters = b[4].buf;
    int64_t *naive = b[5].buf;
    uint8_t *stamps = b[6].buf, *qualities = b[7].buf, *states = b[9].buf;
    double *values = b[8].buf;
    Py_ssize_t lines = b[2].len / 8, fields = b[1].len / 8, total = 0;
    int ok = b[4].len == 256;
    for (Py_ssize_t r = 0; ok && r < lines; r++) {
        ok = counts[r] >= 0 && before[r] >= 0 && before[r] + 3 * counts[r] < fields;
        total += ok ? counts[r] : 0;
    }
    ok = ok && b[5].len >= total * 8 && b[6].len >= total && b[7].len >= total &&
         b[8].len >= total * 8 && b[9].len >= total;
    for (Py_ssize_t f = 0; ok && f < fields; f++)
        ok = stop[f] < b[0].len && (f == 0 || stop[f] > stop[f - 1]);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t t = 0;
        for (Py_ssize_t r = 0; r < lines; r++) {
            const int64_t *bound = stop + before[r];
            for (int64_t k = 0; k < counts[r]; k++, t++, bound += 3) {
                const int64_t s = bound[0] + 1, q = bound[1] + 1, v = bound[2] + 1;
                naive[t] = 0;
                values[t] = 0.0;
                stamps[t] = (uint8_t)stamp(buf + s, q - 1 - s, &naive[t]);
                qualities[t] = quality(buf + q, v - 1 - q, letters);
                states[t] = (uint8_t)decimal(buf + v, bound[3] - v, &values[t]);
            }
        }
        Py_END_ALLOW_THREADS
    }
    for (int i = 0; i < 10; i++) PyBuffer_Release(&b[i]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "triplets: field bounds or output sizes do not agree");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* fields(buf, stop, last) -> (fields, lines)
 *
 * The offset of every comma and newline of buf, in order, into stop; the index in stop of every
 * newline into last (each at least as long as buf). cmep.py's _split, in one pass.
 */
static PyObject *fields(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b[3];
    if (!PyArg_ParseTuple(args, "y*w*w*", &b[0], &b[1], &b[2])) return NULL;
    const uint8_t *buf = b[0].buf;
    int64_t *stop = b[1].buf, *last = b[2].buf;
    Py_ssize_t n = b[0].len, count = 0, lines = 0;
    int ok = b[1].len / 8 >= n && b[2].len / 8 >= n;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t i = 0;
#if defined(__SSE2__) && defined(__GNUC__)
        /* 16 bytes at a time: a bit mask of the commas and newlines, then each set bit. */
        const __m128i comma = _mm_set1_epi8(','), newline = _mm_set1_epi8('\n');
        for (; i + 16 <= n; i += 16) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(buf + i));
            const __m128i nl = _mm_cmpeq_epi8(v, newline);
            unsigned ends = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, comma), nl));
            const unsigned breaks = (unsigned)_mm_movemask_epi8(nl);
            while (ends) {
                const int bit = __builtin_ctz(ends);
                if (breaks & (1u << bit)) last[lines++] = count;
                stop[count++] = i + bit;
                ends &= ends - 1;
            }
        }
#endif
        for (; i < n; i++) {
            const uint8_t c = buf[i];
            if (c == ',' || c == '\n') {
                if (c == '\n') last[lines++] = count;
                stop[count++] = i;
            }
        }
        Py_END_ALLOW_THREADS
    }
    for (int i = 0; i < 3; i++) PyBuffer_Release(&b[i]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "fields: the output arrays are shorter than buf");
        return NULL;
    }
    return Py_BuildValue("nn", count, lines);
}

static PyMethodDef methods[] = {
    {"fields", fields, METH_VARARGS, "Offsets of the commas and newlines (see the C source)."},
    {"triplets", triplets, METH_VARARGS, "Read the triplets of CMEP lines (see the C source)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cmepscan", NULL, 0, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cmepscan(void) { return PyModule_Create(&module); }
