from django import forms

from meters.reads.interfaces import INTERFACES

INTERFACE_LABELS = {
    "cmep": "CMEP (MEPMD01)",
    "mv90_hhf": "MV-90 HHF (text export)",
    "green_button": "Green Button / ESPI XML",
    "iec61968_9": "IEC 61968-9 MeterReadings XML",
    "multispeak": "MultiSpeak V5.0 intervalData",
    "csv": "CSV (meter, interval end, kWh, flag)",
}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    default_error_messages = {"required": "Choose at least one read file to send."}

    def clean(self, data, initial=None):  # type: ignore[no-untyped-def]
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(d, initial) for d in data]
        if isinstance(data, list | tuple):  # the form sent with no file: "This field is required"
            return [single(None, initial)]
        return [single(data, initial)]


class ReadFileUploadForm(forms.Form):
    """One or more read files of one interface."""

    interface = forms.ChoiceField(choices=[(k, INTERFACE_LABELS[k]) for k in INTERFACES])
    files = MultipleFileField(widget=MultipleFileInput(attrs={"multiple": True}), label="Files")
