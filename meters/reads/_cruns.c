/* Run-wise gathers for meters/runs.py: copying whole runs of an array instead of one element
 * at a time.
 *
 * A parsed part of a read file is written to the spool sorted by meter (meters/spool.py): the
 * sort moves whole records (24 to 96 reads of one meter), so the order is a list of runs, and
 * each column is gathered with one memcpy per run instead of numpy's per-element fancy index
 * (~0.25 s of CPU per 180 MB file). Built by setuptools as an optional extension (setup.py):
 * without a C compiler runs.py gathers with numpy, the same values more slowly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* take_runs(src, dst, starts, lengths, itemsize)
 *
 * Copy run i, items starts[i] to starts[i] + lengths[i] - 1 of src, to dst after the runs before
 * it. src and dst are contiguous arrays of itemsize-byte items; starts and lengths are int64.
 * Every run must lie inside src and all of them must fill dst exactly (ValueError otherwise,
 * before anything is copied).
 */
static PyObject *take_runs(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b[4];
    Py_ssize_t itemsize;
    if (!PyArg_ParseTuple(args, "y*w*y*y*n", &b[0], &b[1], &b[2], &b[3], &itemsize)) return NULL;
    const char *src = b[0].buf;
    char *dst = b[1].buf;
    const int64_t *starts = b[2].buf, *lengths = b[3].buf;
    Py_ssize_t runs = b[2].len / 8, total = 0;
    int ok = itemsize > 0 && b[2].len == b[3].len && b[0].len % itemsize == 0 &&
             b[1].len % itemsize == 0;
    const int64_t items = ok ? b[0].len / itemsize : 0, room = ok ? b[1].len / itemsize : 0;
    for (Py_ssize_t r = 0; ok && r < runs; r++) {
        ok = starts[r] >= 0 && lengths[r] >= 0 && starts[r] <= items - lengths[r] &&
             lengths[r] <= room - total;
        total += ok ? lengths[r] : 0;
    }
    ok = ok && total == room;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = 0; r < runs; r++) {
            const size_t size = (size_t)lengths[r] * (size_t)itemsize;
            memcpy(dst, src + starts[r] * itemsize, size);
            dst += size;
        }
        Py_END_ALLOW_THREADS
    }
    for (int i = 0; i < 4; i++) PyBuffer_Release(&b[i]);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "take_runs: the runs do not fit the arrays");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"take_runs", take_runs, METH_VARARGS, "Copy runs of an array (see the C source)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cruns", NULL, 0, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cruns(void) { return PyModule_Create(&module); }
