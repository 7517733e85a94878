"""Highway convolutional network: learned sigmoid gates mix each layer's transform with its unchanged input."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 2
STAGES = 3
KERNEL = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
DOWNSAMPLE = nn.MaxPool2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class HighwayBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.transform = ConvBlock(channels, channels)
        self.gate = nn.Conv2d(channels, channels, KERNEL, 1, KERNEL // 2)
        nn.init.constant_(self.gate.bias, -1.0)

    def forward(self, x):
        gate = torch.sigmoid(self.gate(x))
        return gate * self.transform(x) + (1 - gate) * x


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            if stage > 0 and size >= 4:
                layers.append(DOWNSAMPLE(2))
                size = size // 2
            if width != channels:
                layers.append(ConvBlock(channels, width, 1))
                channels = width
            for index in range(DEPTH):
                layers.append(HighwayBlock(channels))
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
