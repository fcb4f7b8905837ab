"""POST /transcribe-with-property: word timestamps and speaker diarization."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from services.asr.dependencies import AsrDep
from services.asr.diarization.base import SpeakerCount
from services.asr.routers.admission import AdmittedRoute, PlaceDep
from services.asr.schemas import DialogueOut, DiarizedResponse, WordOut
from services.common.errors import InvalidInput

router = APIRouter(tags=["transcription"], route_class=AdmittedRoute)

SpeakerField = Annotated[int | None, Form(ge=1, le=32)]


@router.post(
    "/transcribe-with-property",
    response_model=DiarizedResponse,
    summary="Transcribe with word timestamps and speaker labels",
)
async def transcribe_with_property(
    asr: AsrDep,
    place: PlaceDep,
    file: Annotated[UploadFile, File(description="Audio file: wav, mp3, flac, ogg, m4a.")],
    language: Annotated[str | None, Form(description="ISO 639-1 code; omit to auto-detect.")] = None,
    num_speakers: SpeakerField = None,
    min_speakers: SpeakerField = None,
    max_speakers: SpeakerField = None,
) -> DiarizedResponse:
    count = speaker_count(num_speakers, min_speakers, max_speakers, asr.settings.diarization_max_speakers)
    result, dialogues = await asr.transcribe_speakers(place, file, language, count)
    return DiarizedResponse(
        dialogues=[
            DialogueOut(
                speaker=d.speaker,
                start=d.start,
                end=d.end,
                text=d.text,
                words=[WordOut(word=w.word.strip(), start=w.start, end=w.end) for w in d.words],
            )
            for d in dialogues
        ],
        processing_time=result.processing_time,
        duration=result.transcription.duration,
        language=result.transcription.language,
        num_speakers=len({d.speaker for d in dialogues}),
    )


def speaker_count(exact: int | None, minimum: int | None, maximum: int | None, limit: int) -> SpeakerCount:
    low, high = minimum or 1, maximum or max(limit, minimum or 1)
    if low > high:
        raise InvalidInput(f"min_speakers ({low}) is greater than max_speakers ({high})")
    if exact is not None and not low <= exact <= high:
        raise InvalidInput(f"num_speakers ({exact}) is outside [min_speakers, max_speakers] = [{low}, {high}]")
    return SpeakerCount(exact=exact, minimum=low, maximum=high)
